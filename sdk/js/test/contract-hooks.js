// Module resolution hooks (see contract-stub.js): the contract's interfaces
// resolve to the stub; everything else as node resolves it.
const INTERFACE = /^drhost:runbook\/([a-z0-9-]+)@0\.2\.0$/;

export async function resolve(specifier, context, nextResolve) {
  const match = INTERFACE.exec(specifier);
  if (match !== null) {
    return { url: new URL(`./stub.js?${match[1]}`, import.meta.url).href, shortCircuit: true };
  }
  return nextResolve(specifier, context);
}
