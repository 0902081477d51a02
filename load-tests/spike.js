// k6: the "spike" scenario of workload.json, run by `make loadtest SCENARIO=spike` (load-tests/README.md).
import { createTest } from './lib/k6.js';

const test = createTest(JSON.parse(open('./workload.json')), 'spike');
// k6 looks these names up in the script itself; its runtime can export shorthand destructuring, not renamed keys.
export const { options, setup, openModel, closedModel, handleSummary } = test;
export default test.openModel;
