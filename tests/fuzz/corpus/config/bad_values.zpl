node
    transport = carrier-pigeon
redis
    port = 99999
model
    default_confidence = 1.5
