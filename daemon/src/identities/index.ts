export * from './identity'
export * from './identity-manager'
export * from './demux'
export * from './messages'
