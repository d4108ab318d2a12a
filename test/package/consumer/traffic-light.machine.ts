// A user's machine module in TypeScript, for `mailroom machines export --module` in the
// consumer test: the built CLI loads it through tsx only if tsx is installed.
import { createMachine } from 'xstate';

export const trafficLight = createMachine({ id: 'trafficLight', initial: 'green', states: { green: { on: { NEXT: 'red' } }, red: { on: { NEXT: 'green' } } } });
