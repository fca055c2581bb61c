node
    signals = "@tcp://0.0.0.0:5555,>tcp://10.0.0.2:6000"
model
    features = "ret_1,ret_5,vol_20"
