// What the stubbed interfaces were called with, and what they answer: a test
// sets `answers['http.get']` to a function; every call is appended to `calls`.
export const calls = [];
export const answers = {};

export function reset() {
  calls.length = 0;
  for (const name of Object.keys(answers)) {
    delete answers[name];
  }
}

export function call(name, args) {
  calls.push([name, ...args]);
  const answer = answers[name];
  return answer === undefined ? undefined : answer(...args);
}
