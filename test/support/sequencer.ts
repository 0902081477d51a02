/**
 * vitest's own order (slowest and largest files first), except the container files that tell a new user's story:
 * `make up` then `make seed` must meet the database as `make up` left it (the seed refuses a database with users,
 * which every other file adds), and `make loadtest` right after.
 */
import { BaseSequencer, type TestSpecification } from 'vitest/node';

const FIRST = ['test/containers/make-up.test.ts', 'test/containers/loadtest.test.ts'];

export default class StoryFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (spec: TestSpecification) => {
      const index = FIRST.findIndex((path) => spec.moduleId.endsWith(path));
      return index === -1 ? FIRST.length : index;
    };
    // Array.prototype.sort is stable: files not named keep vitest's order.
    return sorted.sort((a, b) => rank(a) - rank(b));
  }
}
