/** `layers.dense({...})` etc., as in tfjs-layers. */
export { dense, dropout, flatten, type DenseArgs, type DropoutArgs, type LayerArgs } from './layers.js';
