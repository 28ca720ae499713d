export * from './transport'
export * from './memory-transport'
export * from './udp-tcp-transport'
