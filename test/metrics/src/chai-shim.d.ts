// chai 6 ships no type declarations and @types/chai is not installed: this untyped shim lets the specs
// compile (same as test/usb). Remove it once the repository adds @types/chai.
declare module 'chai' {
  export const expect: any;
}
