// A module path with no dot in its first element: the go command never tries to download it,
// so nothing pretends that the package is served anywhere. Use it through `replace` or
// go.work (README.md shows both).
module portpool

go 1.22
