import Foundation
import SluiceTesting
import Testing

@testable import SluiceCore

/// A record with just the fields matching looks at.
func complianceRecord(
    _ name: String, _ version: String, build: String = "0", depends: [String] = [], noarch: String? = nil,
    license: String? = nil, subdir: String = "linux-64"
) -> PackageRecord {
    var fields: [String: JSONValue] = [
        "name": .string(name), "version": .string(version), "build": .string(build), "build_number": .int(0),
        "depends": .array(depends.map(JSONValue.string)), "subdir": .string(subdir),
    ]
    if let noarch { fields["noarch"] = .string(noarch) }
    if let license { fields["license"] = .string(license) }
    return PackageRecord(filename: "\(name)-\(version)-\(build).conda", fields: fields)
}

@Suite("Compliance: matching advisories to conda packages")
struct ComplianceMatchingTests {
    private func range(_ events: [(OSVEvent.Kind, String)]) -> OSVRange {
        range(type: "ECOSYSTEM", events)
    }

    private func range(type: String, _ events: [(OSVEvent.Kind, String)]) -> OSVRange {
        OSVRange(type: type, events: events.map { OSVEvent($0.0, $0.1) })
    }

    private func contains(_ version: String, _ range: OSVRange) throws -> Bool? {
        OSVRangeEvaluator.contains(try VersionOrder(version), in: range)
    }

    @Test func introducedAndFixed() throws {
        let flask = range([(.introduced, "0"), (.fixed, "0.12.3")])
        for version in ["0.1", "0.11.1", "0.12", "0.12.2", "0.12.3a1", "0.12.3rc1", "0.12.3.dev1"] {
            #expect(try contains(version, flask) == true, "\(version)")
        }
        for version in ["0.12.3", "0.12.3.0", "0.12.4", "1.0", "0.12.3.post1", "2.3.2"] {
            #expect(try contains(version, flask) == false, "\(version)")
        }
    }

    @Test func severalIntroducedFixedPairsInAnyOrder() throws {
        // Django-style: two vulnerable series; events deliberately out of order.
        let django = range([(.introduced, "4.0"), (.fixed, "3.2.19"), (.fixed, "4.1.9"), (.introduced, "3.2")])
        #expect(try contains("3.1.9", django) == false)
        #expect(try contains("3.2", django) == true)
        #expect(try contains("3.2.18", django) == true)
        #expect(try contains("3.2.19", django) == false)
        #expect(try contains("3.2.25", django) == false)
        #expect(try contains("4.0", django) == true)
        #expect(try contains("4.1.8", django) == true)
        #expect(try contains("4.1.9", django) == false)
        #expect(try contains("5.0", django) == false)
    }

    @Test func lastAffectedLimitAndOpenRanges() throws {
        let lastAffected = range([(.introduced, "1.0"), (.lastAffected, "1.4.2")])
        #expect(try contains("0.9", lastAffected) == false)
        #expect(try contains("1.4.2", lastAffected) == true)
        #expect(try contains("1.4.2.0", lastAffected) == true)
        #expect(try contains("1.4.3", lastAffected) == false)

        let open = range([(.introduced, "2.0")])
        #expect(try contains("1.9", open) == false)
        #expect(try contains("99.0", open) == true)

        let limited = range([(.introduced, "0"), (.limit, "2.0")])
        #expect(try contains("1.9", limited) == true)
        #expect(try contains("2.0", limited) == false)
        #expect(try contains("3.0", limited) == false)
        let star = range([(.introduced, "0"), (.limit, "*")])
        #expect(try contains("3.0", star) == true)
    }

    @Test func semverRangesAndUnevaluatedRanges() throws {
        let semver = range(type: "SEMVER", [(.introduced, "v1.2.0"), (.fixed, "1.2.5")])
        #expect(try contains("1.2.4", semver) == true)
        #expect(try contains("1.2.5", semver) == false)
        #expect(try contains("1.1.9", semver) == false)
        let git = range(type: "GIT", [(.introduced, "0"), (.fixed, "ab4142215d836b0298fc")])
        #expect(try contains("0.1", git) == nil)
        let unreadable = range([(.introduced, "0"), (.fixed, "1.0 final!!")])
        #expect(try contains("0.1", unreadable) == nil)
    }

    @Test func condaVersionOrderingDecides() throws {
        // Where conda's order matters: 1.0 == 1.0.0, and post releases sort after the release.
        let entry = OSVAffected(
            ecosystem: "PyPI", name: "x", ranges: [range([(.introduced, "1.0.0"), (.fixed, "1.0.post1")])],
            versions: ["2.0.0"])
        #expect(OSVRangeEvaluator.affects(entry, version: try VersionOrder("1.0")))
        #expect(!OSVRangeEvaluator.affects(entry, version: try VersionOrder("1.0.post1")))
        // The explicit versions list is compared with conda's equality.
        #expect(OSVRangeEvaluator.affects(entry, version: try VersionOrder("2.0")))
        #expect(!OSVRangeEvaluator.affects(entry, version: try VersionOrder("2.0.1")))
    }

    @Test func pep503Normalisation() {
        #expect(PackageNames.normalized("Flask") == "flask")
        #expect(PackageNames.normalized("Flask_SQLAlchemy") == "flask-sqlalchemy")
        #expect(PackageNames.normalized("ruamel.yaml") == "ruamel-yaml")
        #expect(PackageNames.normalized("zope..interface") == "zope-interface")
        #expect(PackageNames.normalized("A-_-B") == "a-b")
        #expect(AdvisoryEcosystem(osvEcosystem: "PyPI") == .pypi)
        #expect(AdvisoryEcosystem(osvEcosystem: "conda-forge") == .conda)
        #expect(AdvisoryEcosystem(osvEcosystem: "Conda") == .conda)
        #expect(AdvisoryEcosystem(osvEcosystem: "conda:bioconda") == .conda)
        #expect(AdvisoryEcosystem(osvEcosystem: "npm") == nil)
        #expect(AdvisoryEcosystem(osvEcosystem: "Ubuntu:22.04") == nil)
    }

    @Test func pypiAdvisoriesApplyOnlyToPythonPackages() throws {
        let advisory = try OSVFixtures.advisory("GHSA-562c-5r94-xh97.json")
        let index = AdvisoryIndex(advisories: [advisory])
        let python = complianceRecord("flask", "0.12", depends: ["python >=3.6", "click"])
        let abi = complianceRecord("flask", "0.12", depends: ["python_abi 3.11.* *_cp311"])
        let noarch = complianceRecord("flask", "0.12", noarch: "python")
        let notPython = complianceRecord("flask", "0.12", depends: ["libgcc-ng >=12"])
        let pythonish = complianceRecord("flask", "0.12", depends: ["python-dateutil"])
        #expect(index.matches(for: python).map(\.advisory.id) == ["GHSA-562c-5r94-xh97"])
        #expect(index.matches(for: python).first?.reason == .pypiSameName)
        #expect(index.matches(for: abi).count == 1)
        #expect(index.matches(for: noarch).count == 1)
        #expect(index.matches(for: notPython).isEmpty)
        #expect(index.matches(for: pythonish).isEmpty)
        // Fixed and other packages.
        #expect(index.matches(for: complianceRecord("flask", "0.12.3", depends: ["python"])).isEmpty)
        #expect(index.matches(for: complianceRecord("flask-cors", "0.1", depends: ["python"])).isEmpty)
        #expect(index.mayAffect(name: "Flask"))
        #expect(!index.mayAffect(name: "django"))
    }

    @Test func nameNormalisationMappingAndCondaEcosystems() throws {
        let ruamel = OSVAdvisory(
            id: "PYSEC-TEST-1",
            affected: [
                OSVAffected(
                    ecosystem: "PyPI", name: "ruamel.yaml", ranges: [range([(.introduced, "0"), (.fixed, "0.17")])])
            ])
        let torch = OSVAdvisory(
            id: "GHSA-TEST-2",
            affected: [
                OSVAffected(ecosystem: "PyPI", name: "torch", ranges: [range([(.introduced, "0"), (.fixed, "2.2.0")])])
            ])
        let zlib = OSVAdvisory(
            id: "CONDA-TEST-3",
            affected: [
                OSVAffected(
                    ecosystem: "conda-forge", name: "zlib", ranges: [range([(.introduced, "0"), (.fixed, "1.2.12")])])
            ])
        let withdrawn = OSVAdvisory(
            id: "GHSA-TEST-4", affected: [OSVAffected(ecosystem: "PyPI", name: "torch", versions: ["1.13.1"])],
            withdrawn: Date(timeIntervalSince1970: 1_700_000_000))
        let index = AdvisoryIndex(
            advisories: [ruamel, torch, zlib, withdrawn],
            mappings: [PackageNameMapping(pypiName: "Torch", condaName: "pytorch")])

        #expect(index.advisories.map(\.id) == ["PYSEC-TEST-1", "GHSA-TEST-2", "CONDA-TEST-3"])
        #expect(
            index.matches(for: complianceRecord("ruamel.yaml", "0.16.12", depends: ["python"])).map(\.advisory.id)
                == ["PYSEC-TEST-1"])
        #expect(index.matches(for: complianceRecord("ruamel_yaml", "0.16.12", depends: ["python"])).count == 1)
        // The mapping applies whatever the record depends on; the identity match still needs python.
        let mapped = index.matches(for: complianceRecord("pytorch", "1.13.1"))
        #expect(mapped.map(\.advisory.id) == ["GHSA-TEST-2"])
        #expect(mapped.first?.reason == .pypiMapped)
        #expect(index.matches(for: complianceRecord("torch", "1.13.1")).isEmpty)
        #expect(index.matches(for: complianceRecord("pytorch", "2.2.0")).isEmpty)
        // The real zlib of the conda-format-repo fixture channel (1.2.11) is named directly, no python needed.
        let zlibRecord = try #require(try Self.condaFormatRepoZlib())
        #expect(index.matches(for: zlibRecord).map(\.reason) == [.conda])
        #expect(index.matches(for: complianceRecord("zlib", "1.2.13")).isEmpty)
    }

    @Test func theRealFlaskPackageMatchesBothAliasedAdvisories() throws {
        let flask = try PackageInspector().inspect(
            file: Fixtures.package("conda-index", "flask-0.11.1-py_0.tar.bz2"), filename: "flask-0.11.1-py_0.tar.bz2")
        #expect(flask.record.fields["noarch"]?.stringValue == "python")
        let index = AdvisoryIndex(advisories: try OSVImport.load(from: OSVFixtures.directory).advisories)
        let matches = index.matches(for: flask.record)
        #expect(matches.map(\.advisory.id) == ["GHSA-562c-5r94-xh97", "PYSEC-2018-66"])
        #expect(matches.allSatisfy { $0.fixedVersions == ["0.12.3"] })
    }

    /// zlib 1.2.11 from the real conda-format-repo channel's linux-64 repodata.
    static func condaFormatRepoZlib() throws -> PackageRecord? {
        let url = Fixtures.condaFormatRepo.appendingPathComponent("linux-64/repodata.json")
        let document = try JSONValue.parse(Array(try Data(contentsOf: url)))
        for (filename, fields) in document["packages"]?.objectValue ?? [:] where filename.hasPrefix("zlib-1.2.11") {
            return PackageRecord(filename: filename, fields: try #require(fields.objectValue))
        }
        return nil
    }
}
