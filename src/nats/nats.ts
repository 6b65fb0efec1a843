export { CONTENT_TYPE_HEADER, type NatsBrokerOptions, natsBroker } from './nats-broker.js'
export { consumeNats, type NatsConsumer, type NatsConsumerOptions } from './nats-consumer.js'
export { natsReceivedMessage } from './nats-received-message.js'
