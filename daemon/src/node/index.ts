export * from './config'
export * from './kernel-sync'
export * from './node'
export * from './control'
