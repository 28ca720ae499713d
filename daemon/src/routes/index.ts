export * from './address-sets'
export * from './startup-state'
