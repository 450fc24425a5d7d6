package container

// The words of random container names ("brave_noether"), Berth's own
// lists: adjectives a person would not mind being called, and surnames of
// scientists, mathematicians and engineers. Each entry is lower case
// ASCII letters only, so every generated name is a valid container name.
var (
	adjectives = []string{
		"agile", "amazing", "ample", "ardent", "artful", "astute", "awake", "balanced",
		"blissful", "bold", "brave", "breezy", "bright", "brisk", "buoyant", "calm",
		"candid", "careful", "charming", "cheerful", "civil", "clever", "cosmic", "crisp",
		"curious", "dapper", "daring", "dazzling", "deft", "devoted", "diligent", "discreet",
		"dreamy", "dynamic", "eager", "earnest", "easy", "elastic", "elegant", "eloquent",
		"epic", "exact", "fair", "faithful", "fearless", "festive", "fervent", "fluent",
		"focused", "fond", "frank", "friendly", "gallant", "gentle", "gifted", "glad",
		"graceful", "gracious", "grateful", "hardy", "hearty", "helpful", "honest", "hopeful",
		"humble", "ideal", "jolly", "jovial", "joyful", "keen", "kind", "lively",
		"loyal", "lucid", "lucky", "merry", "mellow", "mindful", "modest", "nimble",
		"noble", "patient", "peaceful", "placid", "playful", "plucky", "polite", "precise",
		"proud", "quick", "quiet", "radiant", "rapid", "ready", "resolute", "robust",
		"serene", "sharp", "sincere", "sleek", "smart", "snappy", "spirited", "splendid",
		"stable", "steady", "stoic", "sturdy", "sunny", "swift", "tender", "thrifty",
		"tidy", "tranquil", "trusty", "upbeat", "valiant", "vibrant", "vivid", "warm",
		"wise", "witty", "zealous", "zesty",
	}

	scientists = []string{
		"agnesi", "alhazen", "ampere", "archimedes", "avogadro", "babbage", "banach", "bardeen",
		"bernoulli", "bohr", "boltzmann", "boole", "born", "bose", "brahe", "cantor",
		"carnot", "carson", "cauchy", "cavendish", "chandrasekhar", "chebyshev", "copernicus", "coulomb",
		"curie", "darwin", "dedekind", "descartes", "dijkstra", "dirac", "doppler", "einstein",
		"euclid", "euler", "faraday", "fermat", "fermi", "feynman", "fibonacci", "fourier",
		"franklin", "fresnel", "galileo", "galois", "gauss", "germain", "gibbs", "godel",
		"goodall", "hamming", "hawking", "heisenberg", "hertz", "hilbert", "hodgkin", "hooke",
		"hopper", "hubble", "huygens", "hypatia", "jacobi", "joule", "kelvin", "kepler",
		"knuth", "kovalevskaya", "lagrange", "lamarr", "laplace", "lavoisier", "leavitt", "leibniz",
		"lovelace", "lorentz", "maxwell", "meitner", "mendel", "mendeleev", "minkowski", "mirzakhani",
		"morse", "napier", "newton", "noether", "ohm", "pascal", "pasteur", "pauli",
		"pavlov", "planck", "poincare", "ptolemy", "pythagoras", "ramanujan", "riemann", "ritchie",
		"roentgen", "rutherford", "sagan", "schrodinger", "shannon", "somerville", "stokes", "tesla",
		"thompson", "torvalds", "turing", "volta", "wiles", "wozniak", "wright", "yalow",
		"yonath", "zuse",
	}
)
