module portpool-listen-server

go 1.22
