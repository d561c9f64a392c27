import Foundation
import SluiceTesting
import Testing

@testable import SluiceCore

@Suite("VersionOrder (conda version ordering)")
struct VersionOrderTests {
    private func v(_ string: String) throws -> VersionOrder { try VersionOrder(string) }

    /// Renders parsed components the way conda's test suite writes them: `[[0], [1], [1, 'DEV', 1]]`.
    private func components(_ version: VersionOrder) -> String {
        func render(_ part: VersionOrder.Part) -> String {
            switch part {
            case .number(let value): return String(value)
            case .bigNumber(let digits): return digits
            case .string(let string): return "'\(string)'"
            case .post: return "inf"
            }
        }
        return "[" + version.version.map { "[" + $0.map(render).joined(separator: ", ") + "]" }.joined(separator: ", ")
            + "]"
    }

    /// conda's `test_version_order` list (tests/models/test_version.py): each version with its parsed components,
    /// in ascending order.
    static let condaOrderedVersions: [(String, String)] = [
        ("0.4", "[[0], [0], [4]]"),
        ("0.4.0", "[[0], [0], [4], [0]]"),
        ("0.4.1a.vc11", "[[0], [0], [4], [1, 'a'], [0, 'vc', 11]]"),
        ("0.4.1.rc", "[[0], [0], [4], [1], [0, 'rc']]"),
        ("0.4.1.vc11", "[[0], [0], [4], [1], [0, 'vc', 11]]"),
        ("0.4.1", "[[0], [0], [4], [1]]"),
        ("0.5*", "[[0], [0], [5, '*']]"),
        ("0.5a1", "[[0], [0], [5, 'a', 1]]"),
        ("0.5b3", "[[0], [0], [5, 'b', 3]]"),
        ("0.5C1", "[[0], [0], [5, 'c', 1]]"),
        ("0.5z", "[[0], [0], [5, 'z']]"),
        ("0.5za", "[[0], [0], [5, 'za']]"),
        ("0.5", "[[0], [0], [5]]"),
        ("0.5_5", "[[0], [0], [5], [5]]"),
        ("0.5-5", "[[0], [0], [5], [5]]"),
        ("0.9.6", "[[0], [0], [9], [6]]"),
        ("0.960923", "[[0], [0], [960923]]"),
        ("1.0", "[[0], [1], [0]]"),
        ("1.0.4a3", "[[0], [1], [0], [4, 'a', 3]]"),
        ("1.0.4b1", "[[0], [1], [0], [4, 'b', 1]]"),
        ("1.0.4", "[[0], [1], [0], [4]]"),
        ("1.1dev1", "[[0], [1], [1, 'DEV', 1]]"),
        ("1.1_", "[[0], [1], [1, '_']]"),
        ("1.1a1", "[[0], [1], [1, 'a', 1]]"),
        ("1.1.dev1", "[[0], [1], [1], [0, 'DEV', 1]]"),
        ("1.1.a1", "[[0], [1], [1], [0, 'a', 1]]"),
        ("1.1", "[[0], [1], [1]]"),
        ("1.1.post1", "[[0], [1], [1], [0, inf, 1]]"),
        ("1.1.1dev1", "[[0], [1], [1], [1, 'DEV', 1]]"),
        ("1.1.1rc1", "[[0], [1], [1], [1, 'rc', 1]]"),
        ("1.1.1", "[[0], [1], [1], [1]]"),
        ("1.1.1post1", "[[0], [1], [1], [1, inf, 1]]"),
        ("1.1post1", "[[0], [1], [1, inf, 1]]"),
        ("2g6", "[[0], [2, 'g', 6]]"),
        ("2.0b1pr0", "[[0], [2], [0, 'b', 1, 'pr', 0]]"),
        ("2.2be.ta29", "[[0], [2], [2, 'be'], [0, 'ta', 29]]"),
        ("2.2be5ta29", "[[0], [2], [2, 'be', 5, 'ta', 29]]"),
        ("2.2beta29", "[[0], [2], [2, 'beta', 29]]"),
        ("2.2.0.1", "[[0], [2], [2], [0], [1]]"),
        ("3.1.1.6", "[[0], [3], [1], [1], [6]]"),
        ("3.2.p.r0", "[[0], [3], [2], [0, 'p'], [0, 'r', 0]]"),
        ("3.2.pr0", "[[0], [3], [2], [0, 'pr', 0]]"),
        ("3.2.pr.1", "[[0], [3], [2], [0, 'pr'], [1]]"),
        ("5.5.kw", "[[0], [5], [5], [0, 'kw']]"),
        ("11g", "[[0], [11, 'g']]"),
        ("14.3.1", "[[0], [14], [3], [1]]"),
        ("14.3.1.post26.g9d75ca2", "[[0], [14], [3], [1], [0, inf, 26], [0, 'g', 9, 'd', 75, 'ca', 2]]"),
        ("1996.07.12", "[[0], [1996], [7], [12]]"),
        ("1!0.4.1", "[[1], [0], [4], [1]]"),
        ("1!3.1.1.6", "[[1], [3], [1], [1], [6]]"),
        ("2!0.4.1", "[[2], [0], [4], [1]]"),
    ]

    @Test func parsesCondaOrderedListIntoTheSameComponents() throws {
        for (string, expected) in Self.condaOrderedVersions {
            let version = try v(string)
            #expect(components(version) == expected, "\(string)")
            #expect(version.description == string.lowercased().replacingOccurrences(of: "-", with: "_"))
        }
    }

    @Test func sortsCondaOrderedList() throws {
        let parsed = try Self.condaOrderedVersions.map { try v($0.0) }
        for index in parsed.indices.dropFirst() {
            #expect(parsed[index - 1] <= parsed[index], "\(parsed[index - 1]) <= \(parsed[index])")
        }
        // A stable sort of a shuffled copy gives back the order (equal neighbours aside).
        var generator = SystemRandomNumberGenerator()
        let shuffled = parsed.shuffled(using: &generator)
        let sorted = shuffled.sorted()
        #expect(sorted.map(components) == parsed.map(components) || zip(sorted, parsed).allSatisfy { $0 == $1 })
    }

    /// conda's docstring order and rattler's `valid_versions` test: `<` and `==` chains.
    @Test func followsTheDocumentedChain() throws {
        let chain: [(String, String)] = [
            ("", "0.4"), ("==", "0.4.0"), ("<", "0.4.1.rc"), ("==", "0.4.1.RC"), ("<", "0.4.1"), ("<", "0.5a1"),
            ("<", "0.5b3"), ("<", "0.5C1"), ("<", "0.5"), ("<", "0.9.6"), ("<", "0.960923"), ("<", "1.0"),
            ("<", "1.1dev1"), ("<", "1.1a1"), ("<", "1.1.0dev1"), ("==", "1.1.dev1"), ("<", "1.1.a1"),
            ("<", "1.1.0rc1"), ("<", "1.1.0"), ("==", "1.1"), ("<", "1.1.0post1"), ("==", "1.1.post1"),
            ("<", "1.1post1"), ("<", "1996.07.12"), ("<", "1!0.4.1"), ("<", "1!3.1.1.6"), ("<", "2!0.4.1"),
        ]
        var previous: VersionOrder?
        for (relation, string) in chain {
            let version = try v(string)
            if let previous {
                if relation == "<" {
                    #expect(previous < version, "\(previous) < \(version)")
                    #expect(!(version < previous))
                } else {
                    #expect(previous == version, "\(previous) == \(version)")
                    #expect(previous.hashValue == version.hashValue)
                }
            }
            previous = version
        }
    }

    @Test func preReleaseDevAndPostOrdering() throws {
        let ordered = ["1.1dev1", "1.1a1", "1.1b1", "1.1rc1", "1.1", "1.1post1"]
        let versions = try ordered.map(v)
        for index in versions.indices.dropFirst() { #expect(versions[index - 1] < versions[index]) }
        // dev and post are special only as whole runs (rattler `dev_is_only_special_for_exact_runs`).
        #expect(try v("1.2dev") < v("1.2.devdev"))
        #expect(try v("1.2dev") < v("1.2devdev"))
        #expect(try v("1.2postpost") < v("1.2post"))
        // '*' < dev < '_' < letters < numbers
        #expect(try v("1.0*") < v("1.0dev"))
        #expect(try v("1.0dev") < v("1.0_"))
        #expect(try v("1.0_") < v("1.0a"))
        #expect(try v("1.0a") < v("1.0.0"))
    }

    @Test func opensslConvention() throws {
        let ordered = [
            "1.0.1dev", "1.0.1_", "1.0.1a", "1.0.1b", "1.0.1c", "1.0.1d", "1.0.1r", "1.0.1rc", "1.0.1rc1", "1.0.1rc2",
            "1.0.1s", "1.0.1", "1.0.1post.a", "1.0.1post.b", "1.0.1post.z", "1.0.1post.za", "1.0.2",
        ]
        let versions = try ordered.map(v)
        var generator = SystemRandomNumberGenerator()
        #expect(versions.shuffled(using: &generator).sorted().map(\.description) == ordered)
    }

    /// conda's `test_pep440`: the PEP 440 list must already be sorted.
    @Test func pep440List() throws {
        let base = [
            "1.0a1", "1.0a2.dev456", "1.0a12.dev456", "1.0a12", "1.0b1.dev456", "1.0b2", "1.0b2.post345.dev456",
            "1.0b2.post345", "1.0c1.dev456", "1.0c1", "1.0c3", "1.0rc2", "1.0.dev456", "1.0", "1.0.post456.dev34",
            "1.0.post456", "1.1.dev1", "1.2.r32+123456", "1.2.rev33+123456", "1.2+abc", "1.2+abc123def", "1.2+abc123",
            "1.2+123abc", "1.2+123abc456", "1.2+1234.abc", "1.2+123456",
        ]
        let all = base + base.map { "1!" + $0 }
        let versions = try all.map(v)
        #expect(versions == versions.sorted())
        #expect(try v("0.3.0.dev") < v("0.3.3"))
    }

    @Test func equalityPadsWithZerosAndIgnoresCase() throws {
        #expect(try v("1.0") == v("1.0.0"))
        #expect(try v("1.0").hashValue == v("1.0.0.0").hashValue)
        #expect(try v("  0.4.rc  ") == v("0.4.RC"))
        #expect(try v("0.4.a1") == v("0.4.0a1"))
        #expect(try v("0.4.a1") != v("0.4.1a1"))
        #expect(try v("0.4") != v("0.4.1"))
        #expect(try v("1.0+0") == v("1.0"))
        #expect(try v("0!1.0") == v("1.0"))
        #expect(try v("1.0-1") == v("1.0_1"))
        #expect(try Set(["1.0", "1.0.0", "1", "1.0.0.0"].map(v)).count == 1)
        // Numbers beyond 64 bits still compare numerically.
        #expect(try v("1.99999999999999999999") < v("1.100000000000000000000"))
        #expect(try v("1.18446744073709551615") < v("1.18446744073709551616"))
        #expect(try v("1.018446744073709551616") == v("1.18446744073709551616"))
    }

    @Test func startsWith() throws {
        #expect(try v("0.4.1").starts(with: v("0")))
        #expect(try v("0.4.1").starts(with: v("0.4")))
        #expect(try v("0.4.1p1").starts(with: v("0.4")))
        #expect(try v("0.4.1p1").starts(with: v("0.4.1p")))
        #expect(try !v("0.4.1p1").starts(with: v("0.4.1q1")))
        #expect(try !v("0.4").starts(with: v("0.4.1")))
        #expect(try v("0.4.1+1.3").starts(with: v("0.4.1")))
        #expect(try v("0.4.1+1.3").starts(with: v("0.4.1+1")))
        #expect(try !v("0.4.1").starts(with: v("0.4.1+1.3")))
        #expect(try !v("0.4.1+1").starts(with: v("0.4.1+1.3")))
        #expect(try v("1.2.3").starts(with: v("1.2")))
        #expect(try !v("1.20").starts(with: v("1.2")))
        // rattler `starts_with_differing_component_sizes`
        #expect(try !v("2.0.1.version2").starts(with: v("2.0.1.version.3")))
        #expect(try !v("2.0.1.version.3").starts(with: v("2.0.1.version2")))
    }

    @Test(arguments: [
        "", "  ", "3.5&1", "5.5++", "5.5..mw", "!", "a!1.0", "a!b!1.0", "1.2+", "+1.2", "++", "1..2", "1.", "1.0-1_2",
        "1 0",
    ])
    func rejectsInvalidVersions(string: String) {
        #expect(throws: SluiceError.self) { try VersionOrder(string) }
        do {
            _ = try VersionOrder(string)
        } catch {
            #expect(error.code == .invalidInput)
        }
    }

    /// Every version in the real r/linux-64 and pytorch repodata parses, and sorting them is a strict weak order
    /// consistent with equality and hashing.
    @Test func parsesAndSortsEveryRealVersion() throws {
        var strings: Set<String> = []
        for file in ["r_linux-64.json", "pytorch_linux-64.json", "conda-forge_numpy_linux-64.json", "main_noarch.json"]
        {
            let value = try JSONValue.parse(try Data(contentsOf: Fixtures.repodata(file)))
            for key in ["packages", "packages.conda"] {
                for record in value[key]?.objectValue?.values ?? [:].values {
                    if let version = record["version"]?.stringValue { strings.insert(version) }
                }
            }
        }
        #expect(strings.count > 500)
        let versions = try strings.map { try VersionOrder($0) }
        let sorted = versions.sorted()
        for index in sorted.indices.dropFirst() {
            let a = sorted[index - 1]
            let b = sorted[index]
            #expect(a <= b)
            #expect(!(b < a))
            if a == b { #expect(a.hashValue == b.hashValue, "\(a) \(b)") }
        }
    }
}
