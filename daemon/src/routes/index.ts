export * from './address-sets'
export * from './startup-state'
export * from './from-qspn'
