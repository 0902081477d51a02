// k6 load test: the "load" scenario of workload.json (its phases, rates and thresholds are defined there).
// Run it with `make loadtest SCENARIO=load` (grafana/k6 container against nginx); load-tests/README.md has the details.
import { createTest } from './lib/k6.js';

const test = createTest(JSON.parse(open('./workload.json')), 'load');

export const options = test.options;
export const setup = test.setup;
export const openModel = test.openModel;
export const closedModel = test.closedModel;
export const handleSummary = test.handleSummary;
export default test.openModel;
