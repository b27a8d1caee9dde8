module portpool.dev/portpool

go 1.22
