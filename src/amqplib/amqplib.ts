export { type AmqpBrokerOptions, type AmqpConnection, amqpBroker } from './amqp-broker.js'
export { type AmqpConsumer, type AmqpConsumerOptions, consumeAmqp } from './amqp-consumer.js'
export { amqpReceivedMessage } from './amqp-received-message.js'
