import Crypto
import Foundation
import SluiceCore
import SluiceTesting
import Testing

@Suite("CEP 16 sharded repodata")
struct ShardsTests {
    static let linux64 = Fixtures.condaFormatRepo.appendingPathComponent("linux-64")

    /// The records of a real repodata file, and its `packages`/`packages.conda` maps merged by file name.
    static func records(of url: URL) throws -> (records: [PackageRecord], byFilename: [String: JSONValue]) {
        let document = try JSONValue.parse(try Data(contentsOf: url))
        var records: [PackageRecord] = []
        var byFilename: [String: JSONValue] = [:]
        for key in ["packages", "packages.conda"] {
            for (filename, fields) in document[key]?.objectValue ?? [:] {
                records.append(PackageRecord(filename: filename, fields: fields.objectValue ?? [:]))
                byFilename[filename] = fields
            }
        }
        return (records, byFilename)
    }

    static func decode(_ file: PublishedFile) throws -> MessagePackValue {
        try MessagePackReader.decode(try Zstd.decompress(file.bytes, maxOutputSize: 1 << 26))
    }

    static func sha256(_ data: Data) -> [UInt8] {
        Array(SHA256.hash(data: data))
    }

    /// Checks everything CEP 16 and the clients require of a built shard set, against the records it was built from.
    static func verify(_ built: RepodataShards, subdir: String, records: [String: JSONValue]) throws {
        // The index.
        let index = try decode(built.index)
        #expect(Set(try #require(index.mapValue).keys) == ["info", "shards", "version"])
        #expect(index["version"] == .int(1))
        #expect(
            index["info"]
                == .map(["base_url": .string(""), "shards_base_url": .string("shards/"), "subdir": .string(subdir)]))
        let shardMap = try #require(index["shards"]?.mapValue)
        #expect(Set(shardMap.keys) == Set(built.entries.keys))
        #expect(built.index.contentType == "application/zstd")

        // Every shard.
        var seen: [String: JSONValue] = [:]
        for (name, entry) in built.entries {
            #expect(entry.name == name)
            let digest = sha256(entry.file.bytes)
            #expect(entry.sha256 == digest, "the shard hash is the SHA-256 of the compressed bytes")
            #expect(shardMap[name] == .binary(digest), "\(name): the index holds the 32 raw bytes")
            #expect(entry.fileName == HexCoding.encode(digest) + ".msgpack.zst")
            #expect(entry.file.etag == PublishedFile.etag(for: entry.file.bytes))
            let raw = try Zstd.decompress(entry.file.bytes, maxOutputSize: 1 << 26)
            #expect(Array(SHA256.hash(data: raw)) == entry.contentDigest)

            let shard = try MessagePackReader.decode(raw)
            #expect(Set(try #require(shard.mapValue).keys) == ["packages", "packages.conda"])
            var count = 0
            for key in ["packages", "packages.conda"] {
                let group = try #require(shard[key]?.mapValue, "\(name): \(key) must always be present")
                for (filename, record) in group {
                    count += 1
                    #expect(filename.hasSuffix(key == "packages" ? ".tar.bz2" : ".conda"))
                    #expect(record["name"]?.stringValue == name)
                    let expected = try #require(records[filename], "\(filename) is not in the repodata")
                    // Hashes are raw bytes of the right length, equal to the hex in repodata.
                    for (field, length) in [("md5", 16), ("sha256", 32)] {
                        guard let hex = expected[field]?.stringValue else { continue }
                        let bytes = try #require(record[field]?.binaryValue, "\(filename): \(field) must be bin")
                        #expect(bytes.count == length)
                        #expect(HexCoding.encode(bytes) == hex.lowercased())
                    }
                    #expect(record.jsonValue() == expected, "\(filename): the record is the repodata record")
                    #expect(seen.updateValue(expected, forKey: filename) == nil, "\(filename) is in two shards")
                }
            }
            #expect(count == entry.recordCount)
        }
        #expect(seen == records, "the shards hold exactly the records of the subdir")
    }

    // MARK: Tests

    @Test("conda-format-repo linux-64: one shard per name, each with exactly that name's records")
    func condaFormatRepoLinux64() throws {
        let (records, byFilename) = try Self.records(of: Self.linux64.appendingPathComponent("repodata.json"))
        let builtAt = Date(timeIntervalSince1970: 1_700_000_000)
        let built = try ShardsBuilder.build(subdir: "linux-64", records: records, builtAt: builtAt)
        #expect(Set(built.entries.keys) == ["libgcc-ng", "zlib"])
        #expect(built.entries["zlib"]?.recordCount == 2)
        #expect(built.entries["libgcc-ng"]?.recordCount == 1)
        #expect(built.compressedCount == 2)
        #expect(built.index.lastModified == builtAt)
        try Self.verify(built, subdir: "linux-64", records: byFilename)
    }

    @Test("Our shards hold the same records as conda-index's real shards for the same channel")
    func sameContentAsCondaIndex() throws {
        let (records, _) = try Self.records(of: Self.linux64.appendingPathComponent("repodata.json"))
        let built = try ShardsBuilder.build(subdir: "linux-64", records: records)
        let realIndex = try MessagePackReader.decode(
            try Zstd.decompress(
                try Data(contentsOf: Self.linux64.appendingPathComponent("repodata_shards.msgpack.zst")),
                maxOutputSize: 1 << 20))
        let realShards = try #require(realIndex["shards"]?.mapValue)
        #expect(Set(realShards.keys) == Set(built.entries.keys))
        for (name, hash) in realShards {
            let file = HexCoding.encode(try #require(hash.binaryValue)) + ".msgpack.zst"
            let real = try MessagePackReader.decode(
                try Zstd.decompress(
                    try Data(contentsOf: Self.linux64.appendingPathComponent(file)), maxOutputSize: 1 << 20))
            let ours = try Self.decode(try #require(built.entries[name]).file)
            // conda-index wrote hex strings, we write bytes; as repodata JSON both are the same records.
            #expect(ours.jsonValue() == real.jsonValue(), "\(name)")
            #expect(ours != real)
        }
    }

    @Test("The empty noarch subdir gives a valid index with no shards")
    func emptyNoarch() throws {
        let (records, _) = try Self.records(
            of: Fixtures.condaFormatRepo.appendingPathComponent("noarch/repodata.json"))
        #expect(records.isEmpty)
        let built = try ShardsBuilder.build(subdir: "noarch", records: records)
        #expect(built.entries.isEmpty)
        #expect(try Self.decode(built.index)["shards"] == .map([:]))
        try Self.verify(built, subdir: "noarch", records: [:])

        let snapshot = try SubdirSnapshot.build(subdir: "noarch", records: [], zstdLevel: 3)
        #expect(snapshot.shards.isEmpty && snapshot.shardEntries.isEmpty)
        let index = try #require(snapshot.files[ShardsBuilder.indexFileName])
        #expect(index.bytes == built.index.bytes)
    }

    @Test("r linux-64 (4211 records): every record in exactly one shard, deterministic bytes")
    func rLinux64() throws {
        let (records, byFilename) = try Self.records(of: Fixtures.repodata("r_linux-64.json"))
        #expect(records.count == 4211)
        let built = try ShardsBuilder.build(subdir: "linux-64", records: records)
        try Self.verify(built, subdir: "linux-64", records: byFilename)
        #expect(built.entries.values.reduce(0) { $0 + $1.recordCount } == 4211)
        #expect(built.compressedCount == built.entries.count)
        #expect(Set(built.entries.keys) == Set(records.map(\.name)))

        // The same records in another order give the same bytes, hence the same names and ETags.
        let again = try ShardsBuilder.build(subdir: "linux-64", records: records.reversed())
        #expect(again.index.bytes == built.index.bytes)
        #expect(again.files.keys.sorted() == built.files.keys.sorted())

        // A duplicate file name keeps the last record, as repodata.json does.
        var changed = records[0]
        changed.fields["size"] = .int(1)
        let withDuplicate = try ShardsBuilder.build(subdir: "linux-64", records: records + [changed])
        var expected = byFilename
        expected[changed.filename] = .object(changed.fields)
        try Self.verify(withDuplicate, subdir: "linux-64", records: expected)
    }

    @Test("A rebuild with the previous entries recompresses only the names whose records changed")
    func incremental() throws {
        let (records, _) = try Self.records(of: Fixtures.repodata("r_linux-64.json"))
        let firstBuilt = Date(timeIntervalSince1970: 1_700_000_000)
        let first = try ShardsBuilder.build(subdir: "linux-64", records: records, builtAt: firstBuilt)

        let byName = Dictionary(grouping: records, by: \.name)
        let multi = byName.keys.sorted().filter { byName[$0]!.count >= 2 }
        let (shrunk, edited, dropped) = (multi[0], multi[1], multi[2])
        var next = records.filter { $0.name != dropped }
        next.removeAll { $0.filename == byName[shrunk]![0].filename }
        let editedIndex = try #require(next.firstIndex { $0.name == edited })
        next[editedIndex].fields["depends"] = .array([.string("r-base >=3.5")])
        var added = byName[shrunk]![1]
        added.filename = "zz-new-package-1.0-0.tar.bz2"
        added.fields["name"] = .string("zz-new-package")
        next.append(added)

        let secondBuilt = Date(timeIntervalSince1970: 1_700_000_600)
        let second = try ShardsBuilder.build(
            subdir: "linux-64", records: next, builtAt: secondBuilt, previous: first.entries)
        #expect(second.compressedCount == 3)
        #expect(second.entries[dropped] == nil)
        for name in [shrunk, edited] {
            #expect(second.entries[name]?.fileName != first.entries[name]?.fileName)
            #expect(second.entries[name]?.file.lastModified == secondBuilt)
        }
        #expect(second.entries["zz-new-package"]?.recordCount == 1)
        for (name, entry) in second.entries where ![shrunk, edited, "zz-new-package"].contains(name) {
            let old = try #require(first.entries[name])
            #expect(entry.fileName == old.fileName)
            #expect(entry.file.bytes == old.file.bytes)
            #expect(entry.file.lastModified == firstBuilt, "\(name) was reused, not rebuilt")
        }
        // The reused set is exactly what a build from scratch gives.
        let scratch = try ShardsBuilder.build(subdir: "linux-64", records: next, builtAt: secondBuilt)
        #expect(scratch.index.bytes == second.index.bytes)
        #expect(scratch.files.keys.sorted() == second.files.keys.sorted())
        let nextByFilename = Dictionary(uniqueKeysWithValues: next.map { ($0.filename, JSONValue.object($0.fields)) })
        try Self.verify(second, subdir: "linux-64", records: nextByFilename)
    }

    @Test("SubdirSnapshot publishes the index in files and the shards separately, reusing the previous snapshot")
    func snapshot() throws {
        let (records, _) = try Self.records(of: Fixtures.repodata("r_linux-64.json"))
        let firstBuilt = Date(timeIntervalSince1970: 1_700_000_000)
        let first = try SubdirSnapshot.build(subdir: "linux-64", records: records, builtAt: firstBuilt, zstdLevel: 3)
        let index = try #require(first.files[ShardsBuilder.indexFileName])
        let direct = try ShardsBuilder.build(subdir: "linux-64", records: records, builtAt: firstBuilt)
        #expect(index.bytes == direct.index.bytes)
        #expect(index.contentType == "application/zstd")
        #expect(Set(first.shards.keys) == Set(first.shardEntries.values.map(\.fileName)))
        #expect(first.shards.count == direct.entries.count)
        for (fileName, file) in first.shards {
            #expect(HexCoding.encode(Self.sha256(file.bytes)) + ".msgpack.zst" == fileName)
        }

        // One record changes: only its name's shard is new; the others are the previous snapshot's files.
        var next = records
        next[0].fields["build_number"] = .int(99)
        let second = try SubdirSnapshot.build(
            subdir: "linux-64", records: next, builtAt: firstBuilt.addingTimeInterval(60), zstdLevel: 3,
            previous: first)
        let changed = next[0].name
        #expect(second.shardEntries[changed]?.fileName != first.shardEntries[changed]?.fileName)
        let newFiles = Set(second.shards.keys).subtracting(first.shards.keys)
        #expect(newFiles == [second.shardEntries[changed]!.fileName])
        #expect(second.files[ShardsBuilder.indexFileName]?.etag != index.etag)
        let unchangedDates = second.shardEntries.values.filter { $0.name != changed }.map(\.file.lastModified)
        #expect(Set(unchangedDates) == [firstBuilt])

        // Nothing changes: the index keeps its bytes, ETag and Last-Modified; no shard is compressed again.
        let third = try SubdirSnapshot.build(
            subdir: "linux-64", records: next.reversed(), builtAt: firstBuilt.addingTimeInterval(120), zstdLevel: 3,
            previous: second)
        let thirdIndex = try #require(third.files[ShardsBuilder.indexFileName])
        let secondIndex = try #require(second.files[ShardsBuilder.indexFileName])
        #expect(thirdIndex.etag == secondIndex.etag && thirdIndex.lastModified == secondIndex.lastModified)
        #expect(Set(third.shards.keys) == Set(second.shards.keys))
        #expect(third.shardEntries.values.allSatisfy { $0.file.lastModified <= secondIndex.lastModified })
    }

    @Test("created_at is written only when asked for, as RFC 3339 UTC")
    func createdAt() throws {
        let date = Date(timeIntervalSince1970: 1_640_995_200)  // 2022-01-01T00:00:00Z
        let bytes = ShardsBuilder.indexMessagePack(
            subdir: "noarch", shards: ["a": [UInt8](repeating: 7, count: 32)], createdAt: date)
        let index = try MessagePackReader.decode(bytes)
        #expect(index["info"]?["created_at"] == .string("2022-01-01T00:00:00Z"))
        #expect(index["shards"]?["a"] == .binary([UInt8](repeating: 7, count: 32)))
        let without = try MessagePackReader.decode(
            ShardsBuilder.indexMessagePack(subdir: "noarch", shards: [:], createdAt: nil))
        #expect(without["info"]?["created_at"] == nil)
    }

    @Test("Hash fields that are not hex of the right length stay strings")
    func oddHashes() throws {
        let record = PackageRecord(
            filename: "odd-1.0-0.conda",
            fields: [
                "name": .string("odd"), "version": .string("1.0"), "build": .string("0"), "md5": .string("xyz"),
                "sha256": .string(String(repeating: "ab", count: 16)),
                "legacy_bz2_md5": .string(String(repeating: "0", count: 32)),
            ])
        let shard = try MessagePackReader.decode(ShardsBuilder.shardMessagePack(records: [record]))
        let written = try #require(shard["packages.conda"]?["odd-1.0-0.conda"])
        #expect(written["md5"] == .string("xyz"))
        #expect(written["sha256"] == .string(String(repeating: "ab", count: 16)))
        #expect(written["legacy_bz2_md5"] == .string(String(repeating: "0", count: 32)))
        #expect(shard["packages"] == .map([:]))
    }

    @Test("Any number of names splits into parallel chunks without losing or repeating one")
    func chunking() throws {
        let (records, _) = try Self.records(of: Fixtures.repodata("r_linux-64.json"))
        let names = Array(Set(records.map(\.name))).sorted()
        for count in [1, 2, 15, 16, 17, 31, 33, 63, 65, 129, 257] where count <= names.count {
            let chosen = Set(names.prefix(count))
            let subset = records.filter { chosen.contains($0.name) }
            let built = try ShardsBuilder.build(subdir: "linux-64", records: subset, zstdLevel: 1)
            #expect(Set(built.entries.keys) == chosen, "\(count) names")
            #expect(built.entries.values.reduce(0) { $0 + $1.recordCount } == subset.count, "\(count) names")
        }
    }

    // MARK: Cross-check with a real client

    /// The end-to-end venv's Python (`scripts/test` creates `.venv` before `swift test`), or `$SLUICE_PYTHON`.
    static let python: String = {
        if let path = ProcessInfo.processInfo.environment["SLUICE_PYTHON"] { return path }
        let repository = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return repository.appendingPathComponent(".venv/bin/python").path
    }()

    /// py-rattler (Rust rattler, sharded repodata on by default) reads our index and shards over HTTP from a
    /// loopback server that has no `repodata.json` at all, and gets back exactly the records we sharded.
    @Test(
        "py-rattler resolves records from our shards alone",
        .enabled(
            if: FileManager.default.isExecutableFile(atPath: python),
            "needs py-rattler in .venv (scripts/test creates it)"))
    func pyRattlerReadsOurShards() throws {
        let (records, byFilename) = try Self.records(of: Fixtures.repodata("r_linux-64.json"))
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-shards-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        for (subdir, subset) in [("linux-64", records), ("noarch", [])] {
            let built = try ShardsBuilder.build(subdir: subdir, records: subset)
            let folder = root.appendingPathComponent("channel/\(subdir)/shards", isDirectory: true)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try built.index.bytes.write(
                to: folder.deletingLastPathComponent().appendingPathComponent(ShardsBuilder.indexFileName))
            for entry in built.entries.values {
                try entry.file.bytes.write(to: folder.appendingPathComponent(entry.fileName))
            }
        }
        let names = ["r-base", "r-ggplot2", "r-curl", "r-xml2", "r-sf"]
        let script = root.appendingPathComponent("query.py")
        try Data(Self.pyRattlerScript.utf8).write(to: script)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.python)
        process.arguments = [script.path, root.path] + names
        let output = Pipe()
        let errors = FileManager.default.temporaryDirectory.appendingPathComponent(
            "sluice-shards-\(UUID().uuidString).err")
        FileManager.default.createFile(atPath: errors.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: errors) }
        process.standardOutput = output
        process.standardError = try FileHandle(forWritingTo: errors)
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let stderr = String(decoding: (try? Data(contentsOf: errors)) ?? Data(), as: UTF8.self)
        try #require(process.terminationStatus == 0, "py-rattler failed: \(stderr)")
        let result = try JSONValue.parse(data)

        let paths = Set(result["paths"]?.arrayValue?.compactMap(\.stringValue) ?? [])
        #expect(paths.contains("/channel/linux-64/repodata_shards.msgpack.zst"))
        #expect(paths.contains { $0.hasPrefix("/channel/linux-64/shards/") && $0.hasSuffix(".msgpack.zst") })
        #expect(!paths.contains { $0.contains("/./") })

        let expected = byFilename.filter { names.contains($0.value["name"]?.stringValue ?? "") }
        let got = try #require(result["records"]?.objectValue)
        #expect(!expected.isEmpty)
        #expect(Set(got.keys) == Set(expected.keys))
        for (filename, record) in got {
            let want = try #require(expected[filename])
            for field in ["name", "version", "build", "build_number", "md5", "sha256", "size", "depends"] {
                #expect(
                    record[field] == (want[field] ?? (field == "depends" ? .array([]) : nil)), "\(filename) \(field)")
            }
        }
    }

    static let pyRattlerScript = #"""
        import asyncio, functools, http.server, json, sys, threading
        from rattler import Gateway
        from rattler.repo_data.gateway import SourceConfig

        root, names = sys.argv[1], sys.argv[2:]
        paths = []

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def send_head(self):
                paths.append(self.path)
                return super().send_head()

        server = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(Handler, directory=root))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        channel = f"http://127.0.0.1:{server.server_address[1]}/channel"
        gateway = Gateway(cache_dir=f"{root}/cache", default_config=SourceConfig(sharded_enabled=True))
        found = asyncio.run(gateway.query([channel], ["linux-64", "noarch"], names, recursive=False))
        records = {}
        for group in found:
            for record in group:
                records[record.file_name] = {
                    "name": record.name.normalized, "version": str(record.version), "build": str(record.build),
                    "build_number": record.build_number, "md5": record.md5.hex() if record.md5 else None,
                    "sha256": record.sha256.hex() if record.sha256 else None, "size": record.size,
                    "depends": list(record.depends),
                }
        server.shutdown()
        print(json.dumps({"paths": paths, "records": records}))
        """#
}
