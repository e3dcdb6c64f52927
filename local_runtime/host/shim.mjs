// Evaluated before Pyodide's own modules: gives Pyodide the small part of a browser
// worker's global scope it probes for, and entropy while workerd forbids it.

// Pyodide resolves its asset URLs against `location` and picks the "web worker" code
// path when `importScripts` exists; the host answers those URLs from imported modules.
globalThis.location ??= new URL("https://local-runtime.invalid/pyodide/");
globalThis.importScripts ??= () => {
  throw new TypeError("importScripts is not available in the local runtime");
};

// Without these, Emscripten falls back to addEventListener("message", ..., true),
// which workerd rejects ("useCapture must be false").
globalThis.setImmediate ??= (fn, ...args) => setTimeout(fn, 0, ...args);
globalThis.clearImmediate ??= (id) => clearTimeout(id);

// workerd refuses crypto.getRandomValues at global scope, yet Python's start-up asks
// for entropy. During the top-level boot only, fall back to Math.random (weak); the
// host reseeds Python from the real source once events start (see host.mjs).
export const entropy = { booting: true, weakCalls: 0 };
const realGetRandomValues = crypto.getRandomValues.bind(crypto);
crypto.getRandomValues = (view) => {
  try {
    return realGetRandomValues(view);
  } catch (error) {
    if (!entropy.booting) throw error;
    entropy.weakCalls += 1;
    const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
    for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256);
    return view;
  }
};
