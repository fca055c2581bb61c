#   ml4t-node configuration (ZPL)
node
    transport = zmq
    signals = "@tcp://127.0.0.1:5555"
    enriched = "@tcp://127.0.0.1:5556"
    control = "@tcp://127.0.0.1:5557"
    stats_interval = 10
    retrain = on
    quiet = off
model
    model_path = "models/live/model.ubj"
    data_dir = "/var/lib/ml4t"
    default_confidence = 0.5
    min_bars = 100
    max_bars = 10000
    max_message_bytes = 4194304
zmq
    sndhwm = 10000
    rcvhwm = 10000
    heartbeat_ivl_ms = 1000
    curve_server_cert = "/etc/ml4t/node_secret"
    curve_clients_dir = "/etc/ml4t/clients"
redis
    host = 127.0.0.1
    port = 6379
    username = "ml4t"
    password = "s3cret"
    group = ml4t
    maxlen = 1000000
policy
    base_confidence = 0.55
    daily_dd_limit_pct = 3
train
    trees = 200
    max_depth = 4
    learning_rate = 0.05
supervisor
    keep_versions = 5
    fit_hmm = on
