// chai 6 ships no type declarations and @types/chai is not installed: this untyped shim lets the specs
// compile. Remove it once the repository adds @types/chai (reported to the lead).
declare module 'chai' {
  export const expect: any;
}
