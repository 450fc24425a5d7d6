package shim

// Abandon is abandon, for the external tests.
var Abandon = abandon
