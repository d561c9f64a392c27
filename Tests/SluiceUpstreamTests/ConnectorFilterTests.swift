import SluiceCore
import SluiceUpstream
import Testing

@Suite("ConnectorFilter")
struct ConnectorFilterTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var patterns: [String]
        var name: String
        var allowed: Bool
        var testDescription: String { "\(patterns) \(allowed ? "allows" : "blocks") \(name)" }
    }

    static let cases: [Case] = [
        // No patterns: everything.
        Case(patterns: [], name: "numpy", allowed: true),
        Case(patterns: ["", "  "], name: "numpy", allowed: true),
        // Exact allow list.
        Case(patterns: ["numpy"], name: "numpy", allowed: true),
        Case(patterns: ["numpy"], name: "numpy-base", allowed: false),
        Case(patterns: ["numpy"], name: "NumPy", allowed: true),
        // `*` wildcard.
        Case(patterns: ["py*"], name: "python", allowed: true),
        Case(patterns: ["py*"], name: "py", allowed: true),
        Case(patterns: ["py*"], name: "cpython", allowed: false),
        Case(patterns: ["*-base"], name: "numpy-base", allowed: true),
        Case(patterns: ["*-base"], name: "numpy-base-extra", allowed: false),
        Case(patterns: ["lib*-ng"], name: "libgcc-ng", allowed: true),
        Case(patterns: ["lib*-ng"], name: "libgcc-ng-dev", allowed: false),
        Case(patterns: ["*a*b*"], name: "xaxxbx", allowed: true),
        Case(patterns: ["*a*b*"], name: "xbxxax", allowed: false),
        Case(patterns: ["*"], name: "anything", allowed: true),
        // `?` wildcard: exactly one character.
        Case(patterns: ["lib?"], name: "libz", allowed: true),
        Case(patterns: ["lib?"], name: "lib", allowed: false),
        Case(patterns: ["lib?"], name: "libzz", allowed: false),
        Case(patterns: ["zl?b"], name: "zlib", allowed: true),
        // Block only: everything else passes.
        Case(patterns: ["!evil-*"], name: "evil-pkg", allowed: false),
        Case(patterns: ["!evil-*"], name: "zlib", allowed: true),
        Case(patterns: ["!numpy"], name: "numpy-base", allowed: true),
        // Allow and block: the block wins.
        Case(patterns: ["py*", "!pytest"], name: "python", allowed: true),
        Case(patterns: ["py*", "!pytest"], name: "pytest", allowed: false),
        Case(patterns: ["!pytest", "py*"], name: "pytest", allowed: false),
        Case(patterns: ["py*", "!pytest"], name: "zlib", allowed: false),
        // Several allow patterns: any one is enough.
        Case(patterns: ["zlib", "libgcc*"], name: "libgcc-ng", allowed: true),
        Case(patterns: ["zlib", "libgcc*"], name: "zlib", allowed: true),
        Case(patterns: ["zlib", "libgcc*"], name: "openssl", allowed: false),
        // Whitespace around patterns is trimmed.
        Case(patterns: ["  zlib ", " ! openssl"], name: "zlib", allowed: true),
        Case(patterns: ["*", " ! openssl"], name: "openssl", allowed: false),
    ]

    @Test(arguments: cases)
    func allows(_ testCase: Case) {
        let filter = ConnectorFilter(testCase.patterns)
        #expect(filter.allows(packageName: testCase.name) == testCase.allowed)
    }

    @Test func keepsPatternsInOrderAndDropsBlanks() {
        let filter = ConnectorFilter(["zlib", "", " !evil ", "!"])
        #expect(filter.patterns == ["zlib", "!evil"])
        #expect(!filter.allowsEverything)
        #expect(ConnectorFilter([]).allowsEverything)
    }

    @Test func validatedRejectsMalformedPatterns() throws {
        for bad in ["", "!", "num py", "a/b", "a!b"] {
            #expect(throws: SluiceError.self) { try ConnectorFilter.validated([bad]) }
        }
        let good = try ConnectorFilter.validated(["numpy*", "!evil-*", "lib?"])
        #expect(good.patterns == ["numpy*", "!evil-*", "lib?"])
    }
}
