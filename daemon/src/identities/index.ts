export * from './identity'
export * from './identity-arcs'
