// Module resolution hooks of the k6 stand-in: the k6 modules the scripts import resolve to the small shims in this
// folder (https://nodejs.org/api/module.html#customization-hooks).
const shims = {
  k6: new URL('./k6.mjs', import.meta.url).href,
  'k6/http': new URL('./http.mjs', import.meta.url).href,
  'k6/execution': new URL('./execution.mjs', import.meta.url).href,
};

export async function resolve(specifier, context, nextResolve) {
  if (specifier in shims) return { url: shims[specifier], shortCircuit: true };
  return nextResolve(specifier, context);
}
