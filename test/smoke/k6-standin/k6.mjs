// Stand-in for the `k6` module: check() records results, sleep() does not wait (the stand-in checks logic, not time).
export const recorded = { checks: [] };

export function check(value, sets, tags = {}) {
  let all = true;
  for (const [name, fn] of Object.entries(sets)) {
    const ok = Boolean(fn(value));
    recorded.checks.push({ name, ok, tags });
    all &&= ok;
  }
  return all;
}

export function sleep() {}

export function group(_name, fn) {
  return fn();
}
