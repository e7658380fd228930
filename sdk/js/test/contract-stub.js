// `node --import ./test/contract-stub.js --test test/`: the SDK's modules
// import the contract's interfaces (`drhost:runbook/log@0.2.0`, …), which
// only exist inside a component. This registers a resolver that maps each to
// test/stub.js?<interface>, whose functions report to test/recorder.js.
import { register } from 'node:module';

register('./contract-hooks.js', import.meta.url);
