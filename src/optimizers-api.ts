/** `optimizers.adam({...})` etc. */
export { adam, sgd, rmsprop, type AdamConfig, type SgdConfig, type RmsPropConfig } from './optimizers.js';
