bogus
    x = 1
node
  = 
    "quoted key" = 1
	stats_interval = 1e309
