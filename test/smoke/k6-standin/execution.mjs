// Stand-in for `k6/execution`.
export default {
  vu: { idInTest: 1 },
  test: {
    abort(reason) {
      throw new Error(`test aborted: ${reason}`);
    },
  },
};
