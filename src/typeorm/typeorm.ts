export { type TxkitTypeormOptions, txkitTypeorm } from './txkit-typeorm.js'
