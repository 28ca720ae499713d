export * from './errors'
export * from './topology'
export * from './naddr'
export * from './ipv4'
