import Foundation
import SluiceCore
import SluiceTesting
import Testing

/// Independent facts about the fixture files: MANIFEST.tsv rows, upstream repodata records, `md5sum` output.
enum FixtureFacts {
    struct ManifestRow {
        var size: Int64
        var sha256: String
    }

    /// `MANIFEST.tsv`, keyed by path relative to the fixtures root.
    static func manifest() throws -> [String: ManifestRow] {
        let text = try String(contentsOf: Fixtures.root.appendingPathComponent("MANIFEST.tsv"), encoding: .utf8)
        var rows: [String: ManifestRow] = [:]
        for line in text.split(separator: "\n").dropFirst() {
            let columns = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard columns.count >= 3, let size = Int64(columns[1]) else { continue }
            rows[String(columns[0])] = ManifestRow(size: size, sha256: String(columns[2]))
        }
        return rows
    }

    struct UpstreamRecord {
        var source: String
        var fields: [String: JSONValue]
    }

    /// Every record of the upstream repodata files, keyed by "<filename> <sha256>".
    static func upstreamRecords() throws -> [String: [UpstreamRecord]] {
        var files = try FileManager.default.contentsOfDirectory(
            at: Fixtures.repodata("for-packages"), includingPropertiesForKeys: nil
        ).filter { $0.pathExtension == "json" }
        for subdir in ["linux-64", "osx-64", "win-32", "win-64", "noarch"] {
            files.append(Fixtures.condaFormatRepo.appendingPathComponent("\(subdir)/repodata.json"))
        }
        var records: [String: [UpstreamRecord]] = [:]
        for file in files {
            let document = try JSONValue.parse(Array(try Data(contentsOf: file)))
            for section in ["packages", "packages.conda"] {
                for (filename, record) in document[section]?.objectValue ?? [:] {
                    let fields = try #require(record.objectValue)
                    let key = "\(filename) \(fields["sha256"]?.stringValue ?? "")"
                    records[key, default: []].append(UpstreamRecord(source: file.lastPathComponent, fields: fields))
                }
            }
        }
        return records
    }

    /// `md5sum` of each file, computed by the system tool rather than the code under test.
    static func md5sums(_ urls: [URL]) throws -> [URL: String] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["md5sum"] + urls.map(\.path)
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        var result: [URL: String] = [:]
        for (line, url) in zip(String(decoding: output, as: UTF8.self).split(separator: "\n"), urls) {
            result[url] = String(line.prefix(32))
        }
        return result
    }

    /// Every package file of the fixtures: `packages/**` (edge cases included) and the conda-format-repo channel.
    static func allPackageFiles() throws -> [URL] {
        var urls = try Fixtures.allPackages(includingEdgeCases: true)
        for subdir in ["linux-64", "osx-64", "win-32", "win-64"] {
            let folder = Fixtures.condaFormatRepo.appendingPathComponent(subdir)
            for name in try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
            where name.hasSuffix(".conda") || name.hasSuffix(".tar.bz2") {
                urls.append(folder.appendingPathComponent(name))
            }
        }
        return urls
    }

    static func relativePath(_ url: URL) -> String {
        String(url.standardizedFileURL.path.dropFirst(Fixtures.root.standardizedFileURL.path.count + 1))
    }
}

@Suite struct PackageInspectorTests {
    /// The record fields that must equal the upstream indexer's output.
    static let comparedFields = [
        "name", "version", "build", "build_number", "depends", "constrains", "license", "license_family", "md5",
        "sha256", "size", "subdir", "timestamp", "noarch", "track_features", "features",
    ]

    /// Upstream differences that are not ours: mamba's test-server repodata is hand-written and omits the `noarch`
    /// the package's index.json carries (conda-index would copy it).
    static let knownUpstreamOmissions: Set<String> = ["mamba_test-server_noarch.json noarch"]

    @Test func inspectsEveryFixturePackageLikeTheUpstreamIndexers() throws {
        // Every file except the one whose name deliberately disagrees with its index.json (tested below).
        let files = try FixtureFacts.allPackageFiles().filter {
            $0.lastPathComponent != "test-package-0.1-0_copy.tar.bz2"
        }
        #expect(files.count == 108)  // 101 under packages/ plus 8 zlib builds in conda-format-repo, minus one
        let manifest = try FixtureFacts.manifest()
        let upstream = try FixtureFacts.upstreamRecords()
        let md5sums = try FixtureFacts.md5sums(files)
        let inspector = PackageInspector()
        var comparedRecords = Set<String>()
        var subdirs = Set<String>()
        for url in files {
            let filename = url.lastPathComponent
            let inspected = try inspector.inspect(file: url, filename: filename)
            let record = inspected.record
            let parsed = try #require(PackageFilename(filename))
            #expect(record.filename == filename)
            #expect(record.name == parsed.name && record.version == parsed.version && record.build == parsed.build)
            #expect(inspected.subdir == record.subdir && ChannelNames.knownSubdirs.contains(inspected.subdir))
            subdirs.insert(inspected.subdir)
            #expect(record.fields["depends"]?.arrayValue != nil, "\(filename): depends must be a list")
            for key in PackageInspector.strippedIndexKeys {
                #expect(record.fields[key] == nil, "\(filename) keeps \(key)")
            }
            let row = try #require(manifest[FixtureFacts.relativePath(url)], "\(url.path) missing from MANIFEST")
            #expect(record.sha256 == row.sha256, "\(filename) sha256")
            #expect(record.size == row.size, "\(filename) size")
            #expect(record.md5 == md5sums[url], "\(filename) md5")

            for expected in upstream["\(filename) \(row.sha256)"] ?? [] {
                comparedRecords.insert("\(filename) \(row.sha256)")
                for field in Self.comparedFields
                where !Self.knownUpstreamOmissions.contains("\(expected.source) \(field)") {
                    #expect(
                        record.fields[field] == expected.fields[field],
                        "\(filename) \(field) differs from \(expected.source)")
                }
            }
        }
        // 75 upstream records, minus the 4 whose files upstream never shipped (README "Known gaps").
        #expect(comparedRecords.count == 71)
        #expect(subdirs == ["noarch", "linux-64", "osx-64", "win-32", "win-64"])
    }

    @Test func derivesTheSubdirOfOldPackagesWithoutOne() throws {
        let inspector = PackageInspector()
        let nano = try inspector.inspect(
            file: Fixtures.package("conda-index", "nano-2.4.1-0.tar.bz2"), filename: "nano-2.4.1-0.tar.bz2")
        // index.json has platform osx, arch x86_64 and no subdir key.
        #expect(nano.subdir == "osx-64")
        #expect(nano.record.fields["subdir"] == .string("osx-64"))
        #expect(nano.record.depends == ["ncurses 5.9", "zlib 1.2*"])
        #expect(nano.record.fields["timestamp"] == nil)
        #expect(nano.record.fields["preferred_env"] == .string("_nano_"))  // unknown keys pass through

        let flask = try inspector.inspect(
            file: Fixtures.package("conda-index", "flask-0.11.1-py_0.tar.bz2"), filename: "flask-0.11.1-py_0.tar.bz2")
        #expect(flask.subdir == "noarch")
        #expect(flask.record.fields["noarch"] == .string("python"))
        #expect(flask.channelData["home"] == .string("http://flask.pocoo.org/"))
    }

    @Test func writesAnEmptyDependsListWhenIndexJSONHasNone() throws {
        let url = Fixtures.package("rattler", "clobber-nested-3-0.1.0-h4616a5c_0.tar.bz2")
        var reader = TarReader(
            source: DecompressingSource(upstream: try FileRangeSource(file: url), decompressor: try Bzip2Decompressor())
        )
        var rawIndex: JSONValue?
        while rawIndex == nil, let entry = try reader.next() {
            if entry.path == "info/index.json" { rawIndex = try JSONValue.parse(reader.readContents(maxSize: 1 << 20)) }
        }
        #expect(try #require(rawIndex)["depends"] == nil)
        let inspected = try PackageInspector().inspect(file: url, filename: url.lastPathComponent)
        #expect(inspected.record.fields["depends"] == .array([]))
    }

    @Test func collectsChannelDataLikeCondaIndex() throws {
        let inspector = PackageInspector()
        // conda-format-repo's channeldata.json names win-64/zlib-1.2.11-h62dcd97_3.tar.bz2 as zlib's reference.
        let channeldata = try JSONValue.parse(
            Array(try Data(contentsOf: Fixtures.condaFormatRepo.appendingPathComponent("channeldata.json"))))
        let expected = try #require(channeldata["packages"]?["zlib"]?.objectValue)
        let zlib = try inspector.inspect(
            file: Fixtures.condaFormatRepo.appendingPathComponent("win-64/zlib-1.2.11-h62dcd97_3.tar.bz2"),
            filename: "zlib-1.2.11-h62dcd97_3.tar.bz2")
        for key in [
            "home", "dev_url", "doc_url", "license", "summary", "description", "identifiers", "keywords", "tags",
            "run_exports", "activate.d", "deactivate.d", "binary_prefix", "text_prefix", "pre_link", "post_link",
            "pre_unlink",
        ] {
            #expect(zlib.channelData[key] == expected[key], "channeldata \(key)")
        }

        func flags(_ group: String, _ file: String) throws -> Set<String> {
            let data = try inspector.inspect(file: Fixtures.package(group, file), filename: file).channelData
            return Set(
                ["activate.d", "deactivate.d", "binary_prefix", "text_prefix", "pre_link", "post_link", "pre_unlink"]
                    .filter { data[$0] == .bool(true) })
        }
        #expect(try flags("conda-index", "conda-index-pkg-a-1.0-py27h5e241af_0.conda") == ["post_link", "text_prefix"])
        #expect(
            try flags("conda-test-recipes", "activate_deactivate_package-1.0-0.conda") == [
                "activate.d", "deactivate.d",
            ])
        #expect(try flags("rattler", "link-scripts-0.1.0-h4616a5c_0.conda") == ["post_link", "pre_unlink"])
        #expect(try flags("conda-index", "flask-0.11.1-py_0.tar.bz2") == [])  // no paths.json at all

        let exports = try inspector.inspect(
            file: Fixtures.package("conda-index", "run_exports_versions-2.0-h39de5ba_0.tar.bz2"),
            filename: "run_exports_versions-2.0-h39de5ba_0.tar.bz2")
        #expect(exports.channelData["run_exports"] == .object(["weak": .array([.string("run_exports_version 2.0")])]))
        let none = try inspector.inspect(
            file: Fixtures.package("pixi", "dummy-a-0.1.0-hb0f4dca_0.conda"), filename: "dummy-a-0.1.0-hb0f4dca_0.conda"
        )
        #expect(none.channelData["run_exports"] == .object([:]))
    }

    // MARK: - Rejections

    private func rejection(
        _ bytes: some Sequence<UInt8>, named filename: String,
        configuration: PackageInspector.Configuration = .init(),
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> SluiceError {
        let directory = try TemporaryDirectory()
        let url = try directory.write(UUID().uuidString, bytes)
        let error = try #require(throws: SluiceError.self, sourceLocation: sourceLocation) {
            try PackageInspector(configuration: configuration).inspect(file: url, filename: filename)
        }
        #expect(error.code == .invalidPackage, "\(error)", sourceLocation: sourceLocation)
        return error
    }

    @Test func rejectsEmptyAndForeignFiles() throws {
        #expect(try rejection([], named: "a-1-0.conda").message.contains("empty"))
        var generator = SystemRandomNumberGenerator()
        let random = (0..<4096).map { _ in UInt8.random(in: 0...255, using: &generator) }
        #expect(try rejection([0x00] + random, named: "a-1-0.tar.bz2").message.contains("not a conda package"))
        #expect(try rejection(Array("{\"name\": \"a\"}".utf8), named: "a-1-0.conda").message.contains("not a conda"))
    }

    @Test func rejectsWrongExtensionsAndNames() throws {
        let conda = Array(try Data(contentsOf: Fixtures.package("pixi", "dummy-a-0.1.0-hb0f4dca_0.conda")))
        #expect(try rejection(conda, named: "dummy-a-0.1.0-hb0f4dca_0.zip").message.contains(".conda or .tar.bz2"))
        #expect(try rejection(conda, named: "dummy-a-0.1.0-hb0f4dca_0.tar.bz2").message.contains("Rename"))
        #expect(try rejection(conda, named: "dummy-a.conda").message.contains("<name>-<version>-<build>"))
        // A renamed .conda: its members still carry the original stem.
        #expect(try rejection(conda, named: "dummy-a-0.1.0-hb0f4dca_1.conda").message.contains("renamed"))
    }

    @Test func rejectsAFileNameThatDisagreesWithIndexJSON() throws {
        let bytes = try Data(contentsOf: Fixtures.package("edge-cases", "test-package-0.1-0_copy.tar.bz2"))
        let error = try rejection(bytes, named: "test-package-0.1-0_copy.tar.bz2")
        #expect(error.message.contains("build '0_copy'"))
        #expect(error.message.contains("test-package-0.1-0.tar.bz2"))
        let renamed = try rejection(bytes, named: "test-package-0.2-0.tar.bz2")
        #expect(renamed.message.contains("version '0.2'"))
    }

    @Test func rejectsTruncatedPackages() throws {
        let conda = try Data(contentsOf: Fixtures.package("conda-package-handling", "mock-2.0.0-py37_1000.conda"))
        for cut in [conda.count - 1, conda.count - 22, conda.count * 3 / 4, conda.count / 2, 64] {
            let error = try rejection(conda.prefix(cut), named: "mock-2.0.0-py37_1000.conda")
            #expect(error.message.contains("truncated") || error.message.contains("corrupt"), "cut \(cut): \(error)")
        }
        let tarBz2 = try Data(contentsOf: Fixtures.package("conda-package-handling", "mock-2.0.0-py37_1000.tar.bz2"))
        for cut in [tarBz2.count - 1, tarBz2.count - 10, tarBz2.count / 2, 300] {
            let error = try rejection(tarBz2.prefix(cut), named: "mock-2.0.0-py37_1000.tar.bz2")
            #expect(error.message.contains("truncated"), "cut \(cut): \(error)")
        }
    }

    @Test func rejectsCorruptCompressedMetadata() throws {
        let url = Fixtures.condaFormatRepo.appendingPathComponent("linux-64/zlib-1.2.11-h7b6447c_3.conda")
        var bytes = Array(try Data(contentsOf: url))
        let zip = try ZipReader(file: url)
        let range = try zip.dataRange(of: try #require(zip.entry(named: "info-zlib-1.2.11-h7b6447c_3.tar.zst")))
        for offset in stride(from: Int(range.lowerBound) + 100, to: Int(range.lowerBound) + 400, by: 7) {
            bytes[offset] ^= 0x5A
        }
        let error = try rejection(bytes, named: "zlib-1.2.11-h7b6447c_3.conda")
        #expect(error.message.contains("corrupt"))
    }

    @Test func rejectsUnsafePathsInsideTheMetadata() throws {
        let index = ArchiveBuilder.indexJSON(name: "evil", version: "1.0", build: "0")
        for path in ["../evil", "/abs/evil", "info/../../evil"] {
            let tarBz2 = try ArchiveBuilder.tarBz2([.file(path, "x"), .file("info/index.json", index)])
            #expect(try rejection(tarBz2, named: "evil-1.0-0.tar.bz2").message.contains(path))
            let conda = try ArchiveBuilder.conda(
                stem: "evil-1.0-0", infoMembers: [.file("info/index.json", index), .file(path, "x")])
            #expect(try rejection(conda, named: "evil-1.0-0.conda").message.contains(path))
        }
    }

    @Test func acceptsCraftedPackagesAndRejectsCompressedZipMembers() throws {
        let index = ArchiveBuilder.indexJSON(name: "crafted", version: "1.0", build: "0")
        let directory = try TemporaryDirectory()
        // The builders produce packages the inspector accepts, so the rejections below are about one defect each.
        let conda = try ArchiveBuilder.conda(stem: "crafted-1.0-0", infoMembers: [.file("info/index.json", index)])
        let good = try PackageInspector().inspect(
            file: try directory.write("crafted-1.0-0.conda", conda), filename: "crafted-1.0-0.conda")
        #expect(good.record.fields["noarch"] == .string("generic"))
        let tarBz2 = try ArchiveBuilder.tarBz2([.file("info/index.json", index)])
        _ = try PackageInspector().inspect(
            file: try directory.write("crafted-1.0-0.tar.bz2", tarBz2), filename: "crafted-1.0-0.tar.bz2")

        let info = try Zstd.compress(Data(ArchiveBuilder.tar([.file("info/index.json", index)])))
        let deflated = ArchiveBuilder.zip([
            .init(name: "metadata.json", data: Array(#"{"conda_pkg_format_version": 2}"#.utf8)),
            .init(name: "pkg-crafted-1.0-0.tar.zst", data: []),
            .init(name: "info-crafted-1.0-0.tar.zst", data: Array(info), method: 8),
        ])
        #expect(try rejection(deflated, named: "crafted-1.0-0.conda").message.contains("STORED"))

        let noMetadata = ArchiveBuilder.zip([
            .init(name: "pkg-crafted-1.0-0.tar.zst", data: []),
            .init(name: "info-crafted-1.0-0.tar.zst", data: Array(info)),
        ])
        #expect(try rejection(noMetadata, named: "crafted-1.0-0.conda").message.contains("metadata.json"))
    }

    @Test func rejectsInvalidIndexJSON() throws {
        let cases: [(String, String)] = [
            ("[]", "not a JSON object"),
            ("{\"name\": \"x\", \"version\": \"1.0\", \"build\": \"0\", \"build_number\": 0", "not valid JSON"),
            ("{\"name\": \"x\", \"build\": \"0\", \"build_number\": 0}", "'version'"),
            ("{\"name\": \"x\", \"version\": 1.0, \"build\": \"0\", \"build_number\": 0}", "'version'"),
            ("{\"name\": \"x\", \"version\": \"1.0\", \"build\": \"0\", \"build_number\": \"0\"}", "build_number"),
            (
                "{\"name\": \"x\", \"version\": \"1.0\", \"build\": \"0\", \"build_number\": 0, \"depends\": \"a\"}",
                "depends"
            ),
            (
                "{\"name\": \"x\", \"version\": \"1.0\", \"build\": \"0\", \"build_number\": 0, \"subdir\": \"../x\"}",
                "subdir"
            ),
        ]
        for (json, expected) in cases {
            let tarBz2 = try ArchiveBuilder.tarBz2([.file("info/index.json", json)])
            let error = try rejection(tarBz2, named: "x-1.0-0.tar.bz2")
            #expect(error.message.contains(expected), "\(json): \(error.message)")
        }
        let missing = try ArchiveBuilder.tarBz2([.file("info/about.json", "{}"), .file("bin/tool", "#!")])
        #expect(try rejection(missing, named: "x-1.0-0.tar.bz2").message.contains("no info/index.json"))
    }

    @Test func stopsDecompressionBombs() throws {
        let index = ArchiveBuilder.indexJSON(name: "bomb", version: "1.0", build: "0")
        let limits = PackageInspector.Configuration(maxMemberSize: 1 << 20, maxInfoSize: 8 << 20)
        // 64 MiB of zeros before index.json: a few KB compressed, far over the info stream limit.
        let zeros = [UInt8](repeating: 0, count: 64 << 20)
        let bombTar = ArchiveBuilder.tar([.init(path: "info/zeros", body: zeros), .file("info/index.json", index)])
        let compressed = try Zstd.compress(Data(bombTar), level: 3)
        #expect(compressed.count < 64 * 1024)
        let package = try Zstd.compress(Data(ArchiveBuilder.tar([])), level: 3)
        let conda = ArchiveBuilder.zip([
            .init(name: "metadata.json", data: Array(#"{"conda_pkg_format_version": 2}"#.utf8)),
            .init(name: "pkg-bomb-1.0-0.tar.zst", data: Array(package)),
            .init(name: "info-bomb-1.0-0.tar.zst", data: Array(compressed)),
        ])
        let error = try rejection(conda, named: "bomb-1.0-0.conda", configuration: limits)
        #expect(error.message.contains("decompression bomb") && error.message.contains("\(8 << 20)"))

        // index.json itself over the member limit (valid JSON padded with whitespace).
        let padded = index + String(repeating: " ", count: 2 << 20)
        let big = try ArchiveBuilder.conda(stem: "bomb-1.0-0", infoMembers: [.file("info/index.json", padded)])
        let memberError = try rejection(big, named: "bomb-1.0-0.conda", configuration: limits)
        #expect(memberError.message.contains("info/index.json") && memberError.message.contains("\(1 << 20)"))

        // The same package passes with the default limits, so the limits are what rejected it.
        let directory = try TemporaryDirectory()
        let url = try directory.write("bomb-1.0-0.conda", big)
        #expect(try PackageInspector().inspect(file: url, filename: "bomb-1.0-0.conda").record.name == "bomb")
    }
}
