import Foundation
import SluiceTesting
import Testing

@testable import SluiceCore

@Suite("VersionSpec and MatchSpec")
struct VersionSpecTests {
    private func matches(_ spec: String, _ version: String) throws -> Bool {
        try VersionSpec(spec).matches(version)
    }

    /// conda's `test_ver_eval`.
    @Test func versionEvaluation() throws {
        #expect(try matches("==1.7", "1.7.0"))
        #expect(try matches("<=1.7", "1.7.0"))
        #expect(try !matches("<1.7", "1.7.0"))
        #expect(try matches(">=1.7", "1.7.0"))
        #expect(try !matches(">1.7", "1.7.0"))
        #expect(try !matches(">=1.7", "1.6.7"))
        #expect(try !matches(">2013b", "2013a"))
        #expect(try matches(">2013b", "2013k"))
        #expect(try !matches(">2013b", "3.0.0"))
        #expect(try matches(">1.0.0a", "1.0.0"))
        #expect(try matches(">1.0.0*", "1.0.0"))
        #expect(try matches("1.0*", "1.0"))
        #expect(try matches("1.0*", "1.0.0"))
        #expect(try matches("1.0.0*", "1.0"))
        #expect(try !matches("1.0.0*", "1.0.1"))
        #expect(try matches("2013a*", "2013a"))
        #expect(try !matches("2013b*", "2013a"))
        #expect(try matches("2013a*", "2013ab"))
        #expect(try !matches("1.2.4*", "1.3.4"))
        #expect(try matches("1.2.3*", "1.2.3+4.5.6"))
        #expect(try matches("1.2.3+4*", "1.2.3+4.5.6"))
        #expect(try !matches("1.2.3+5*", "1.2.3+4.5.6"))
        #expect(try !matches("1.2.4+5*", "1.2.3+4.5.6"))
    }

    /// conda's `test_match`: every spec against version 1.7.1.
    @Test(arguments: [
        ("1.7.*", true), ("1.7.1", true), ("1.7.0", false), ("1.7", false), ("1.5.*", false), (">=1.5", true),
        ("!=1.5", true), ("!=1.7.1", false), ("==1.7.1", true), ("==1.7", false), ("==1.7.2", false),
        ("==1.7.1.0", true), ("1.7.*|1.8.*", true), (">1.7,<1.8", true), (">1.7.1,<1.8", false), ("^1.7.1$", true),
        (#"^1\.7\.1$"#, true), (#"^1\.7\.[0-9]+$"#, true), (#"^1\.8.*$"#, false), (#"^1\.[5-8]\.1$"#, true),
        (#"^[^1].*$"#, false), (#"^[0-9+]+\.[0-9+]+\.[0-9]+$"#, true), ("^$", false), ("^.*$", true),
        ("1.7.*|^0.*$", true), ("1.6.*|^0.*$", false), ("1.6.*|^0.*$|1.7.1", true), ("^0.*$|1.7.1", true),
        (#"1.6.*|^.*\.7\.1$|0.7.1"#, true), ("*", true), ("1.*.1", true), ("1.5.*|>1.7,<1.8", true),
        ("1.5.*|>1.7,<1.7.1", false),
    ])
    func matchesVersion171(spec: String, expected: Bool) throws {
        let parsed = try VersionSpec(spec)
        #expect(parsed.matches("1.7.1") == expected, "\(spec)")
        #expect(parsed.matches(try VersionOrder("1.7.1")) == expected, "\(spec)")
    }

    @Test func localVersionsMatchThemselves() throws {
        for version in ["1.7.0", "1.7.0.post123", "1.7.0.post123.gabcdef9", "1.7.0.post123+gabcdef9"] {
            #expect(try matches(version, version))
        }
    }

    /// conda's `test_not_eq_star` and `test_compound_versions`.
    @Test func prefixAndNegatedPrefix() throws {
        #expect(try matches("=3.3", "3.3.1"))
        #expect(try matches("=3.3", "3.3"))
        #expect(try !matches("=3.3", "3.4"))
        #expect(try matches("3.3.*", "3.3.1"))
        #expect(try matches("3.3.*", "3.3"))
        #expect(try !matches("3.3.*", "3.4"))
        #expect(try matches("=3.3.*", "3.3.1"))
        #expect(try !matches("=3.3.*", "3.4"))
        #expect(try !matches("!=3.3.*", "3.3.1"))
        #expect(try matches("!=3.3.*", "3.4"))
        #expect(try matches("!=3.3.*", "3.4.1"))
        #expect(try matches("!=3.3", "3.3.1"))
        #expect(try !matches("!=3.3", "3.3.0.0"))
        #expect(try !matches("!=3.3.*", "3.3.0.0"))
        #expect(try !matches("1.2*", "1.20"))

        let compound = try VersionSpec(">=2.7, !=3.0.*, !=3.1.*, !=3.2.*, !=3.3.*")
        #expect(!compound.matches("2.6.8"))
        #expect(compound.matches("2.7.2"))
        #expect(!compound.matches("3.3"))
        #expect(!compound.matches("3.3.4"))
        #expect(compound.matches("3.4"))
        #expect(compound.matches("3.4a"))
    }

    @Test func andBindsTighterThanOrAndParenthesesGroup() throws {
        // 1.5 | (1.6 , 1.7)
        #expect(try matches("1.5|>=1.6,<1.7", "1.5"))
        #expect(try matches("1.5|>=1.6,<1.7", "1.6.3"))
        #expect(try !matches("1.5|>=1.6,<1.7", "1.8"))
        // (1.5 | 1.6) , <1.6
        #expect(try matches("(1.5|1.6),<1.6", "1.5"))
        #expect(try !matches("(1.5|1.6),<1.6", "1.6"))
        #expect(try matches("( (1.5|((1.6|1.7), 1.8), 1.9 |2.0))|2.1", "2.1"))
        #expect(try !matches("( (1.5|((1.6|1.7), 1.8), 1.9 |2.0))|2.1", "1.6"))
    }

    /// conda's `test_compatible_release_versions`.
    @Test func compatibleRelease() throws {
        #expect(try matches("~=1.10", "1.11.0"))
        #expect(try !matches("~=1.10.0", "1.11.0"))
        #expect(try !matches("~=3.3.2", "3.4.0"))
        #expect(try !matches("~=3.3.2", "3.3.1"))
        #expect(try matches("~=3.3.2", "3.3.2.0"))
        #expect(try matches("~=3.3.2", "3.3.3"))
        #expect(try matches("~=3.3.2|==2.2", "2.2.0"))
        #expect(try matches("~=3.3.2|==2.2", "3.3.3"))
        #expect(try !matches("~=3.3.2|==2.2", "2.2.1"))
    }

    @Test(arguments: [
        "(1.5", "1.5)", "1.5||1.6", "^1.5", "~", "^", "1.2+", "+1.2", "+1.2+", "++", "c +, 0/|0 *", "a[version=)|(",
        "a=)(=b", "==", "=", ">=", "<=", "~=3.3.2.*", "===3.3.2", "><2.4.5", "!!2.4.5", "!", ">= 1.2", "", "1.2,",
    ])
    func rejectsInvalidSpecs(spec: String) {
        #expect(throws: SluiceError.self, "\(spec)") { try VersionSpec(spec) }
    }

    @Test func equalSpecsHashEqually() throws {
        #expect(try VersionSpec("1.7.1") == VersionSpec("1.7.1"))
        #expect(try VersionSpec("1.7.1") != VersionSpec("1.7.1*"))
    }

    // MARK: MatchSpec

    private func record(_ name: String, _ version: String, _ build: String, buildNumber: Int64 = 0) -> PackageRecord {
        PackageRecord(
            filename: "\(name)-\(version)-\(build).tar.bz2",
            fields: [
                "name": .string(name), "version": .string(version), "build": .string(build),
                "build_number": .int(buildNumber),
            ])
    }

    @Test func parsesDependsForms() throws {
        let python = try MatchSpec("python >=2.7,<2.8.0a0")
        #expect(python.name == "python")
        #expect(python.build == nil)
        #expect(python.matches(record("python", "2.7.15", "h1571d57_0")))
        #expect(!python.matches(record("python", "2.8.0", "h1571d57_0")))
        #expect(!python.matches(record("python", "2.8.0a0", "0")))
        #expect(!python.matches(record("python", "3.6.0", "0")))
        #expect(!python.matches(record("pythonx", "2.7.15", "0")))

        let libgcc = try MatchSpec("libgcc-ng >=7.3.0")
        #expect(libgcc.matches(record("libgcc-ng", "8.2.0", "hdf63c60_1")))
        #expect(!libgcc.matches(record("libgcc-ng", "7.2.0", "hdf63c60_1")))

        let vc = try MatchSpec("vc 14.*")
        #expect(vc.matches(record("vc", "14.1", "h0510ff6_4")))
        #expect(vc.matches(record("vc", "14", "0")))
        #expect(!vc.matches(record("vc", "15.0", "0")))
        #expect(!vc.matches(record("vc", "140", "0")))

        let exact = try MatchSpec("foo 1.0 py27_0")
        #expect(exact.version?.spec == "1.0")
        #expect(exact.build == "py27_0")
        #expect(exact.matches(record("foo", "1.0", "py27_0")))
        #expect(exact.matches(record("foo", "1.0.0", "py27_0")))
        #expect(!exact.matches(record("foo", "1.0", "py27_1")))
        #expect(!exact.matches(record("foo", "1.0.1", "py27_0")))

        // A bare version is exact: `foo 1.0` does not match 1.0.1.
        let bare = try MatchSpec("foo 1.0")
        #expect(bare.matches(record("foo", "1.0", "0")))
        #expect(!bare.matches(record("foo", "1.0.1", "0")))

        let anyVersion = try MatchSpec("foo")
        #expect(anyVersion.version == nil)
        #expect(anyVersion.matches(record("foo", "0.0.1", "x")))

        let buildGlob = try MatchSpec("numpy 1.11* py27*")
        #expect(buildGlob.matches(record("numpy", "1.11.3", "py27h1b885b7_8")))
        #expect(!buildGlob.matches(record("numpy", "1.11.3", "py36h1b885b7_8")))
        #expect(!buildGlob.matches(record("numpy", "1.12.0", "py27_0")))
    }

    @Test func translatesEqualsLikeConda() throws {
        // `=1.2` is a prefix match; `==1.2` is exact; `=1.2=build` is exact with a build.
        let fuzzy = try MatchSpec("numpy=1.11")
        #expect(fuzzy.version?.spec == "1.11*")
        #expect(fuzzy.matches(record("numpy", "1.11.3", "0")))
        #expect(!fuzzy.matches(record("numpy", "1.12", "0")))
        let exact = try MatchSpec("numpy==1.11")
        #expect(exact.matches(record("numpy", "1.11", "0")))
        #expect(!exact.matches(record("numpy", "1.11.3", "0")))
        let withBuild = try MatchSpec("numpy=1.11.3=py27_0")
        #expect(withBuild.build == "py27_0")
        #expect(withBuild.matches(record("numpy", "1.11.3", "py27_0")))
        #expect(!withBuild.matches(record("numpy", "1.11.3.1", "py27_0")))
        let spaced = try MatchSpec("numpy >=1.0 , < 2.0 py34_0")
        #expect(spaced.version?.spec == ">=1.0,<2.0")
        #expect(spaced.build == "py34_0")
        let orSpec = try MatchSpec("numpy >1.8,<2|==1.7")
        #expect(orSpec.build == nil)
        #expect(orSpec.matches(record("numpy", "1.7", "0")))
        #expect(orSpec.matches(record("numpy", "1.9", "0")))
        #expect(!orSpec.matches(record("numpy", "1.8", "0")))
        let starBuild = try MatchSpec("blas * openblas_0")
        #expect(starBuild.version?.spec == "*")
        #expect(starBuild.matches(record("blas", "1.0", "openblas_0")))
        #expect(!starBuild.matches(record("blas", "1.0", "mkl")))
    }

    @Test func handlesChannelsBracketsAndComments() throws {
        let channel = try MatchSpec("conda-forge::zlib >=1.2.11")
        #expect(channel.name == "zlib")
        #expect(channel.matches(record("zlib", "1.2.11", "0")))
        let brackets = try MatchSpec("zlib[version='>=1.2,<1.3', build_number='>=3']")
        #expect(brackets.matches(record("zlib", "1.2.11", "h7b6447c_3", buildNumber: 3)))
        #expect(!brackets.matches(record("zlib", "1.2.11", "h7b6447c_2", buildNumber: 2)))
        #expect(!brackets.matches(record("zlib", "1.3", "h7b6447c_3", buildNumber: 3)))
        let comment = try MatchSpec("zlib 1.2.* # pinned")
        #expect(comment.matches(record("zlib", "1.2.11", "0")))
        #expect(throws: SluiceError.self) { try MatchSpec("") }
        #expect(throws: SluiceError.self) { try MatchSpec(">=1.0") }
        #expect(throws: SluiceError.self) { try MatchSpec("foo >=") }
        #expect(throws: SluiceError.self) { try MatchSpec("f$o 1.0") }
    }

    /// Every `depends` entry in real repodata parses, and the dependency names resolve as expected.
    @Test func parsesEveryRealDependsEntry() throws {
        var count = 0
        for file in ["r_linux-64.json", "pytorch_linux-64.json", "conda-forge_numpy_linux-64.json", "main_noarch.json"]
        {
            let value = try JSONValue.parse(try Data(contentsOf: Fixtures.repodata(file)))
            for key in ["packages", "packages.conda"] {
                for entry in value[key]?.objectValue?.values ?? [:].values {
                    for dependency in entry["depends"]?.arrayValue ?? [] {
                        guard let text = dependency.stringValue else { continue }
                        let spec = try MatchSpec(text)
                        #expect(spec.name == String(text.prefix { !" =<>!~".contains($0) }).lowercased())
                        count += 1
                    }
                }
            }
        }
        #expect(count > 10000)
    }
}
