export { publishedMarkerKey, type RedisBrokerOptions, redisBroker } from './redis-broker.js'
export { consumeRedis, type RedisConsumer, type RedisConsumerOptions } from './redis-consumer.js'
export { redisReceivedMessage } from './redis-received-message.js'
export { STREAM_FIELDS } from './redis-stream-fields.js'
