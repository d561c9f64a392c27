import Foundation
import SluiceTesting
import Synchronization
import Testing

@testable import SluiceCore

@Suite("RepodataBuilder and SubdirSnapshot")
struct RepodataBuilderTests {
    /// Loads the records of a real repodata file.
    static func records(of url: URL) throws -> (subdir: String?, records: [PackageRecord], document: JSONValue) {
        let document = try JSONValue.parse(try Data(contentsOf: url))
        var records: [PackageRecord] = []
        for key in ["packages", "packages.conda"] {
            for (filename, fields) in document[key]?.objectValue ?? [:] {
                records.append(PackageRecord(filename: filename, fields: fields.objectValue ?? [:]))
            }
        }
        return (document["info"]?["subdir"]?.stringValue, records, document)
    }

    static var repodataFiles: [URL] {
        var files: [URL] = []
        let forPackages = Fixtures.repodata("for-packages")
        for name in (try? FileManager.default.contentsOfDirectory(atPath: forPackages.path)) ?? []
        where name.hasSuffix(".json") {
            files.append(forPackages.appendingPathComponent(name))
        }
        for subdir in ["linux-64", "osx-64", "win-32", "win-64", "noarch"] {
            files.append(Fixtures.condaFormatRepo.appendingPathComponent("\(subdir)/repodata.json"))
        }
        files.append(Fixtures.repodata("r_linux-64.json"))
        files.append(Fixtures.repodata("pytorch_linux-64.json"))
        return files.sorted { $0.path < $1.path }
    }

    private func filenames(_ document: JSONValue) -> Set<String> {
        Set((document["packages"]?.objectValue?.keys).map(Array.init) ?? [])
            .union((document["packages.conda"]?.objectValue?.keys).map(Array.init) ?? [])
    }

    // MARK: repodata.json

    @Test func rebuildsEveryRealRepodataRecordForRecord() throws {
        let files = Self.repodataFiles
        #expect(files.count >= 17)
        for file in files {
            let (subdir, records, original) = try Self.records(of: file)
            let subdirName = subdir ?? "linux-64"
            let bytes = RepodataBuilder.repodata(subdir: subdirName, records: records.shuffled())
            let rebuilt = try JSONValue.parse(bytes)
            #expect(rebuilt["info"] == .object(["subdir": .string(subdirName)]), "\(file.lastPathComponent)")
            #expect(rebuilt["removed"] == .array([]))
            #expect(rebuilt["repodata_version"] == .int(1))
            #expect(
                rebuilt.objectValue?.keys.sorted() == [
                    "info", "packages", "packages.conda", "removed", "repodata_version",
                ])
            for key in ["packages", "packages.conda"] {
                let want = original[key]?.objectValue ?? [:]
                let got = rebuilt[key]?.objectValue ?? [:]
                #expect(got.count == want.count, "\(file.lastPathComponent) \(key)")
                for (filename, record) in want {
                    #expect(got[filename] == record, "\(file.lastPathComponent) \(filename)")
                }
            }
            // Compact with sorted keys: writing the parsed document again gives the same bytes.
            #expect(rebuilt.compactJSON() == bytes, "\(file.lastPathComponent)")
        }
    }

    /// The two real compact files differ from our output only in `repodata_version` (they say 2) and `removed`.
    @Test(arguments: [
        "for-packages/pixi_dummy_channel_1_linux-64.json",
        "for-packages/pixi_multiple_versions_channel_1_linux-64.json",
    ])
    func matchesRealCompactRepodataBytes(file: String) throws {
        let (_, records, original) = try Self.records(of: Fixtures.repodata(file))
        guard case .object(var expected) = original else {
            Issue.record("not an object")
            return
        }
        expected["repodata_version"] = .int(1)
        expected["removed"] = .array([])
        let bytes = RepodataBuilder.repodata(subdir: "linux-64", records: records)
        #expect(bytes == JSONValue.object(expected).compactJSON())
    }

    @Test func laterDuplicateFilenameWins() throws {
        let (_, records, _) = try Self.records(
            of: Fixtures.condaFormatRepo.appendingPathComponent("osx-64/repodata.json"))
        var changed = records[0]
        changed.fields["size"] = .int(1)
        let rebuilt = try JSONValue.parse(RepodataBuilder.repodata(subdir: "osx-64", records: records + [changed]))
        let section = changed.format == .conda ? "packages.conda" : "packages"
        #expect(rebuilt[section]?[changed.filename]?["size"] == .int(1))
    }

    @Test func emptyNoarchIsTheMinimalValidRepodata() throws {
        let bytes = RepodataBuilder.repodata(subdir: "noarch", records: [])
        #expect(
            String(decoding: bytes, as: UTF8.self)
                == #"{"info":{"subdir":"noarch"},"packages":{},"packages.conda":{},"removed":[],"repodata_version":1}"#)
        // Same document as the real minimal noarch/repodata.json (which is pretty-printed).
        let real = try JSONValue.parse(
            try Data(contentsOf: Fixtures.condaFormatRepo.appendingPathComponent("noarch/repodata.json")))
        #expect(try JSONValue.parse(bytes) == real)
    }

    // MARK: current_repodata.json

    /// win-64: our selection equals the real conda-index output file for file and record for record.
    @Test(arguments: ["win-64", "osx-64", "win-32", "noarch"])
    func currentRepodataMatchesRealConda(subdir: String) throws {
        let folder = Fixtures.condaFormatRepo.appendingPathComponent(subdir)
        let (_, records, _) = try Self.records(of: folder.appendingPathComponent("repodata.json"))
        let real = try JSONValue.parse(try Data(contentsOf: folder.appendingPathComponent("current_repodata.json")))
        let ours = try JSONValue.parse(RepodataBuilder.currentRepodata(subdir: subdir, records: records))
        #expect(filenames(ours) == filenames(real))
        #expect(ours == real)
    }

    /// linux-64: the real `current_repodata.json` predates the `libgcc-ng` record that was later added to that
    /// subdir's `repodata.json` (the fixture README lists it as a known gap: the file does not exist). zlib depends on
    /// `libgcc-ng >=7.3.0`, which nothing in the newest set satisfies, so conda-index's backfill step adds it; every
    /// other record must match the real file exactly.
    @Test func currentRepodataLinux64BackfillsTheDependency() throws {
        let folder = Fixtures.condaFormatRepo.appendingPathComponent("linux-64")
        let (_, records, full) = try Self.records(of: folder.appendingPathComponent("repodata.json"))
        let real = try JSONValue.parse(try Data(contentsOf: folder.appendingPathComponent("current_repodata.json")))
        let ours = try JSONValue.parse(RepodataBuilder.currentRepodata(subdir: "linux-64", records: records))
        let libgcc = try #require(full["packages"]?.objectValue?.keys.first { $0.hasPrefix("libgcc-ng-") })
        #expect(filenames(ours) == filenames(real).union([libgcc]))
        #expect(ours["packages.conda"] == real["packages.conda"])
        #expect(ours["packages"]?[libgcc] == full["packages"]?[libgcc])
    }

    /// For the large real indexes, check conda-index's rules directly against the full record set.
    @Test(arguments: [
        "r_linux-64.json", "pytorch_linux-64.json", "for-packages/conda-test-recipes_noarch.json",
        "for-packages/conda-index_hotfix_osx-64.json", "rattler_dummy_linux-64.json",
    ])
    func currentRepodataFollowsCondaIndexRules(file: String) throws {
        let (_, all, _) = try Self.records(of: Fixtures.repodata(file))
        let ours = try JSONValue.parse(RepodataBuilder.currentRepodata(subdir: "linux-64", records: all))
        let kept = filenames(ours)
        #expect(!kept.isEmpty)

        let byFilename = Dictionary(all.map { ($0.filename, $0) }, uniquingKeysWith: { $1 })
        let condaStems = Set(all.filter { $0.format == .conda }.map { $0.filename.dropLast(6) })
        let considered = all.filter { $0.format == .conda || !condaStems.contains($0.filename.dropLast(8)) }
        var byName: [String: [(PackageRecord, VersionOrder)]] = [:]
        for record in considered {
            byName[record.name, default: []].append((record, try VersionOrder(record.version)))
        }
        // 1. Nothing kept is a .tar.bz2 with a .conda twin; everything kept comes from the input.
        for filename in kept {
            #expect(byFilename[filename] != nil)
            if filename.hasSuffix(".tar.bz2") { #expect(!condaStems.contains(filename.dropLast(8))) }
        }
        // 2. Every name's newest version is kept in full.
        for (name, group) in byName {
            let newest = group.map(\.1).max()!
            for (record, version) in group where version == newest {
                #expect(kept.contains(record.filename), "\(name): newest \(record.filename) missing")
            }
        }
        // 3. Each dependency of a newest record is satisfied inside the subset when the full set can satisfy it.
        let keptRecords = kept.compactMap { byFilename[$0] }
        for (_, group) in byName {
            let newest = group.map(\.1).max()!
            for (record, version) in group where version == newest {
                for dependency in record.depends {
                    guard let spec = try? MatchSpec(dependency) else { continue }
                    let satisfiable = considered.contains { spec.matches($0) }
                    let satisfied = keptRecords.contains { spec.matches($0) }
                    #expect(!satisfiable || satisfied, "\(record.filename): \(dependency)")
                }
            }
        }
        // 4. A name whose kept records carry features also keeps a feature-less version when one exists.
        func hasFeatures(_ record: PackageRecord) -> Bool {
            CurrentRepodataSelector.isSet(record.fields["features"])
                || CurrentRepodataSelector.isSet(record.fields["track_features"])
        }
        let keptByName = Dictionary(grouping: keptRecords, by: \.name)
        for (name, group) in keptByName where group.contains(where: hasFeatures) {
            let latest = try group.map { try VersionOrder($0.version) }.max()!
            let candidates = (byName[name] ?? []).filter { !hasFeatures($0.0) && $0.1 <= latest }
            if !candidates.isEmpty {
                #expect(group.contains { !hasFeatures($0) }, "\(name) keeps no feature-less record")
            }
        }
        // 5. .conda records carry legacy_bz2_md5 from their twin, or null.
        for (filename, record) in ours["packages.conda"]?.objectValue ?? [:] {
            let twin = byFilename[String(filename.dropLast(6)) + ".tar.bz2"]
            #expect(record["legacy_bz2_md5"] == (twin?.fields["md5"] ?? .null), "\(filename)")
        }
        // 6. Old versions that no rule asks for are dropped.
        #expect(kept.count < all.count || all.count == byName.count)
    }

    /// conda-index's `_add_prev_ver_for_features`: when the newest version carries track_features, the newest
    /// feature-less version that is not newer is kept too. Uses the real `track_feature` records of conda's test
    /// recipes; every version there has features, so we remove them from 1.0 to create the feature-less build.
    @Test func keepsTheNewestFeaturelessVersionBesideAFeaturedNewest() throws {
        let (_, all, _) = try Self.records(of: Fixtures.repodata("for-packages/conda-test-recipes_noarch.json"))
        let trackFeature = all.filter { $0.name == "track_feature" }
        #expect(trackFeature.count == 2)
        let v1 = try #require(trackFeature.first { $0.version == "1.0" })
        let v2 = try #require(trackFeature.first { $0.version == "2.0" })

        // All versions featured: only the newest is kept.
        let featured = try JSONValue.parse(RepodataBuilder.currentRepodata(subdir: "noarch", records: [v1, v2]))
        #expect(filenames(featured) == [v2.filename])

        // 1.0 without features: it is kept next to 2.0.
        var plain = v1
        plain.fields["track_features"] = nil
        let withPlain = try JSONValue.parse(RepodataBuilder.currentRepodata(subdir: "noarch", records: [plain, v2]))
        #expect(filenames(withPlain) == [v1.filename, v2.filename])

        // An empty track_features string counts as no features (conda splits it into nothing).
        plain.fields["track_features"] = .string("")
        let withEmpty = try JSONValue.parse(RepodataBuilder.currentRepodata(subdir: "noarch", records: [plain, v2]))
        #expect(filenames(withEmpty) == [v1.filename, v2.filename])
    }

    // MARK: channeldata.json

    @Test func channeldataFromTheRealChannel() throws {
        var packages: [StoredPackage] = []
        for subdir in ["linux-64", "osx-64", "win-32", "win-64"] {
            let (_, records, _) = try Self.records(
                of: Fixtures.condaFormatRepo.appendingPathComponent("\(subdir)/repodata.json"))
            for record in records {
                packages.append(
                    StoredPackage(
                        feed: "main", subdir: subdir, record: record,
                        channelData: record.name == "zlib"
                            ? [
                                "home": .string("http://zlib.net/"), "text_prefix": .bool(subdir == "win-64"),
                                "run_exports": record.version == "1.2.11"
                                    ? .object(["weak": .array([.string("zlib >=1.2.11,<1.3.0a0")])]) : .object([:]),
                                "commits": .array([]), "summary": .null,
                            ] : [:]))
            }
        }
        let document = try JSONValue.parse(RepodataBuilder.channeldata(packages: packages))
        let real = try JSONValue.parse(
            try Data(contentsOf: Fixtures.condaFormatRepo.appendingPathComponent("channeldata.json")))
        #expect(document["channeldata_version"] == .int(1))
        #expect(document["subdirs"] == real["subdirs"])
        #expect(document["packages"]?.objectValue?.keys.sorted() == real["packages"]?.objectValue?.keys.sorted())
        for name in ["libgcc-ng", "vc", "vs2015_runtime", "zlib"] {
            let ours = try #require(document["packages"]?[name])
            let theirs = try #require(real["packages"]?[name])
            #expect(ours["version"] == theirs["version"], "\(name)")
            #expect(ours["subdirs"] == theirs["subdirs"], "\(name)")
            #expect(ours["license"] == theirs["license"], "\(name)")
            let reference = try #require(ours["reference_package"]?.stringValue)
            // A .conda is preferred over its .tar.bz2 twin.
            let condaTwin = reference.replacingOccurrences(of: ".tar.bz2", with: ".conda")
            if reference.hasSuffix(".tar.bz2") {
                #expect(!packages.contains { "\($0.subdir)/\($0.filename)" == condaTwin }, "\(reference)")
            }
            let timestamp = try #require(ours["timestamp"]?.intValue)
            #expect(timestamp < 10_000_000_000, "timestamp must be in seconds")
        }
        let zlib = try #require(document["packages"]?["zlib"])
        #expect(zlib["run_exports"] == theirsRunExports(real))
        #expect(zlib["text_prefix"] == .bool(true))
        #expect(zlib["home"] == .string("http://zlib.net/"))
        #expect(zlib["commits"] == nil)
        #expect(zlib["summary"] == nil)
        let newestZlib = packages.filter { $0.name == "zlib" }.compactMap { $0.record.fields["timestamp"]?.intValue }
            .max()
        #expect(zlib["timestamp"]?.intValue == newestZlib.map { $0 / 1000 })
    }

    private func theirsRunExports(_ real: JSONValue) -> JSONValue? {
        // The fixture was written by an older indexer that stored the flat run_exports; conda-index now keys them by
        // version, which is what we write.
        guard let weak = real["packages"]?["zlib"]?["run_exports"] else { return nil }
        return .object(["1.2.11": weak])
    }

    @Test func channeldataOfNothingListsNoarch() throws {
        let document = try JSONValue.parse(RepodataBuilder.channeldata(packages: []))
        #expect(
            document
                == .object([
                    "channeldata_version": .int(1), "subdirs": .array([.string("noarch")]), "packages": .object([:]),
                ]))
    }

    // MARK: SubdirSnapshot

    @Test func snapshotVariantsDecompressToTheJSONBytes() throws {
        let (_, records, _) = try Self.records(
            of: Fixtures.condaFormatRepo.appendingPathComponent("win-64/repodata.json"))
        let builtAt = Date(timeIntervalSince1970: 1_700_000_000)
        let snapshot = try SubdirSnapshot.build(subdir: "win-64", records: records, builtAt: builtAt, zstdLevel: 3)
        #expect(Set(snapshot.files.keys) == Set(SubdirSnapshot.fileNames))
        #expect(snapshot.records.count == records.count)
        #expect(snapshot.builtAt == builtAt)
        for base in ["repodata.json", "current_repodata.json"] {
            let json = try #require(snapshot.files[base])
            let zst = try #require(snapshot.files[base + ".zst"])
            let bz2 = try #require(snapshot.files[base + ".bz2"])
            #expect(try Zstd.decompress(zst.bytes, maxOutputSize: 1 << 26) == json.bytes)
            #expect(try Bzip2.decompress(bz2.bytes, maxOutputSize: 1 << 26) == json.bytes)
            #expect(json.contentType == "application/json")
            #expect(zst.contentType == "application/zstd")
            #expect(bz2.contentType == "application/x-bzip2")
            #expect(json.lastModified == builtAt)
        }
        #expect(
            snapshot.files["repodata.json"]?.bytes == Data(RepodataBuilder.repodata(subdir: "win-64", records: records))
        )
        #expect(
            snapshot.files["current_repodata.json"]?.bytes
                == Data(RepodataBuilder.currentRepodata(subdir: "win-64", records: records)))
        // Every representation has its own strong ETag.
        let etags = snapshot.files.values.map(\.etag)
        #expect(Set(etags).count == etags.count)
        for file in snapshot.files.values {
            #expect(
                file.etag.count == 34 && file.etag.hasPrefix("\"") && file.etag.hasSuffix("\"")
                    && !file.etag.hasPrefix("W/"))
            #expect(file.etag == PublishedFile.etag(for: file.bytes))
        }
        // Same input, same bytes and ETags.
        let again = try SubdirSnapshot.build(
            subdir: "win-64", records: records.reversed(), builtAt: builtAt, zstdLevel: 3)
        #expect(again.files["repodata.json"]?.etag == snapshot.files["repodata.json"]?.etag)
    }

    /// Large documents get a fast zstd level and no `.bz2`; the `.zst` still holds exactly the JSON bytes.
    @Test func largeDocumentsUseFastZstdAndSkipBzip2() throws {
        let (_, records, _) = try Self.records(of: Fixtures.repodata("r_linux-64.json"))
        let snapshot = try SubdirSnapshot.build(
            subdir: "linux-64", records: records, zstdLevel: 19, largeInputSize: 1024, bzip2MaximumInputSize: 4096)
        let json = try #require(snapshot.files["repodata.json"])
        #expect(json.bytes.count > 4096)
        let zst = try #require(snapshot.files["repodata.json.zst"])
        #expect(try Zstd.decompress(zst.bytes, maxOutputSize: 1 << 28) == json.bytes)
        #expect(snapshot.files["repodata.json.bz2"] == nil)
        // The same records under the default thresholds keep every variant.
        let regular = try SubdirSnapshot.build(subdir: "linux-64", records: records, zstdLevel: 3)
        #expect(regular.files["repodata.json.bz2"] != nil)
        #expect(regular.files["repodata.json"]?.bytes == json.bytes)
    }

    /// A caller-provided storage receives repodata.json and current_repodata.json and changes no byte.
    @Test func documentStorageHoldsTheDocuments() throws {
        let (_, records, _) = try Self.records(of: Fixtures.repodata("r_linux-64.json"))
        let sizes = Mutex<[Int]>([])
        let storage = DocumentStorage { count, fill in
            sizes.withLock { $0.append(count) }
            var data = Data(repeating: 0xFF, count: count)
            data.withUnsafeMutableBytes { fill($0) }
            return data
        }
        let custom = try SubdirSnapshot.build(subdir: "linux-64", records: records, zstdLevel: 3, storage: storage)
        let regular = try SubdirSnapshot.build(subdir: "linux-64", records: records, zstdLevel: 3)
        let repodata = try #require(custom.files["repodata.json"]).bytes
        let current = try #require(custom.files["current_repodata.json"]).bytes
        #expect(sizes.withLock { $0.sorted() } == [current.count, repodata.count].sorted())
        for name in SubdirSnapshot.fileNames {
            #expect(custom.files[name]?.bytes == regular.files[name]?.bytes, "\(name)")
        }
        #expect(repodata == Data(RepodataBuilder.repodata(subdir: "linux-64", records: records)))
        #expect(try JSONValue.parse(repodata)["packages"]?.objectValue?.isEmpty == false)
    }

    @Test func emptyNoarchSnapshot() throws {
        let snapshot = try SubdirSnapshot.build(subdir: "noarch", records: [])
        let minimal =
            #"{"info":{"subdir":"noarch"},"packages":{},"packages.conda":{},"removed":[],"repodata_version":1}"#
        #expect(snapshot.files["repodata.json"]?.bytes == Data(minimal.utf8))
        #expect(snapshot.files["current_repodata.json"]?.bytes == Data(minimal.utf8))
        let zst = try #require(snapshot.files["repodata.json.zst"])
        #expect(try Zstd.decompress(zst.bytes, maxOutputSize: 1024) == Data(minimal.utf8))
        #expect(snapshot.records.isEmpty)
    }

    // MARK: Incremental builds

    /// Every file, shard and record of two snapshots, byte for byte.
    static func expectSameBytes(_ lhs: SubdirSnapshot, _ rhs: SubdirSnapshot) {
        #expect(Set(lhs.files.keys) == Set(rhs.files.keys))
        for (name, file) in lhs.files {
            #expect(file.bytes == rhs.files[name]?.bytes, "\(name)")
            #expect(file.etag == rhs.files[name]?.etag, "\(name)")
        }
        #expect(Set(lhs.shards.keys) == Set(rhs.shards.keys))
        for (name, file) in lhs.shards {
            #expect(file.bytes == rhs.shards[name]?.bytes, "\(name)")
        }
        #expect(lhs.shardEntries.mapValues(\.fileName) == rhs.shardEntries.mapValues(\.fileName))
        #expect(lhs.records == rhs.records)
    }

    /// Real records spread over both sections and past one parallel chunk in each: r linux-64's 4,211 `.tar.bz2`
    /// records, and the same again as `.conda` files.
    static func bothSections() throws -> [PackageRecord] {
        let (_, records, _) = try Self.records(of: Fixtures.repodata("r_linux-64.json"))
        let conda = records.map { record in
            PackageRecord(filename: String(record.filename.dropLast(8)) + ".conda", fields: record.fields)
        }
        return records + conda
    }

    @Test func incrementalBuildEqualsFromScratchAfterAddReplaceDelete() throws {
        let all = try Self.bothSections()
        #expect(all.count > 2 * RepodataWriter.chunkSize)
        let first = Date(timeIntervalSince1970: 1_700_000_000)
        let second = first.addingTimeInterval(60)
        var current = Array(all.dropLast(100))
        let before = try SubdirSnapshot.build(subdir: "linux-64", records: current, builtAt: first, zstdLevel: 3)

        // Add 100 records, hot-fix 20 (changed depends, a new key, a removed key), delete 40.
        current += all.suffix(100)
        for index in stride(from: 0, to: 4000, by: 200) {
            current[index].fields["depends"] = .array([.string("hotfix >=1.0")])
            current[index].fields["zzz_note"] = .string("patched \u{e9}\n")
            current[index].fields["license"] = nil
        }
        let deleted = current[300..<340].map(\.filename)
        current.removeSubrange(300..<340)

        let incremental = try SubdirSnapshot.build(
            subdir: "linux-64", records: current, builtAt: second, zstdLevel: 3, previous: before)
        let scratch = try SubdirSnapshot.build(subdir: "linux-64", records: current, builtAt: second, zstdLevel: 3)
        Self.expectSameBytes(incremental, scratch)
        for filename in deleted { #expect(incremental.records[filename] == nil) }

        // Shards of untouched names were kept from the first build (their Last-Modified says so); touched ones are new.
        let touched = Set(current.filter { $0.fields["zzz_note"] != nil }.map(\.name))
            .union(all.suffix(100).map(\.name)).union(all[300..<340].map(\.name))
        var kept = 0
        for (name, entry) in incremental.shardEntries {
            if touched.contains(name) {
                #expect(entry.file.lastModified == second, "\(name)")
            } else if entry.file.lastModified == first {
                kept += 1
            }
        }
        #expect(kept > 100)

        // Deleting everything and adding it back gives the first build again.
        let emptied = try SubdirSnapshot.build(subdir: "linux-64", records: [], zstdLevel: 3, previous: incremental)
        let restored = try SubdirSnapshot.build(
            subdir: "linux-64", records: Array(all.dropLast(100)), builtAt: first, zstdLevel: 3, previous: emptied)
        Self.expectSameBytes(restored, before)
    }

    /// The previous document's bytes are what an unchanged record is written as (so they are copied, not
    /// re-serialized); a changed record is serialized again.
    @Test func unchangedRecordsAreCopiedFromThePreviousDocument() throws {
        let (_, records, _) = try Self.records(of: Fixtures.repodata("conda-test_noarch.json"))
        let table = RecordTable(records: records)
        let first = RepodataWriter.repodata(subdir: "noarch", table: table, reuse: nil)
        // A previous document whose bytes for the first record differ in form (spaces) but not in meaning.
        let index = table.records.indices.first!
        let range = first.valueRanges[index]
        let spaced = Array("{ }".utf8)
        var previous = Array(first.bytes[..<range.lowerBound]) + spaced
        let end = previous.count
        previous += first.bytes[range.upperBound...]
        var ranges: [String: Range<Int>] = [:]
        for (offset, record) in table.records.enumerated() {
            let old = first.valueRanges[offset]
            ranges[record.filename] =
                offset == index
                ? range.lowerBound..<end
                : (old.lowerBound < range.lowerBound
                    ? old
                    : (old.lowerBound + spaced.count - range.count)..<(old.upperBound + spaced.count - range.count))
        }
        var byFilename: [String: PackageRecord] = [:]
        for record in table.records { byFilename[record.filename] = record }
        let reuse = RecordJSONReuse(document: Data(previous), ranges: ranges, records: byFilename)
        let copied = RepodataWriter.repodata(subdir: "noarch", table: table, reuse: reuse)
        #expect(copied.bytes == previous)

        // Once the record changed, it is serialized again.
        var changed = records
        let position = changed.firstIndex { $0.filename == table.records[index].filename }!
        changed[position].fields["build_number"] = .int(99)
        let rebuilt = RepodataWriter.repodata(subdir: "noarch", table: RecordTable(records: changed), reuse: reuse)
        #expect(rebuilt.bytes == RepodataBuilder.repodata(subdir: "noarch", records: changed))
    }

    @Test func mergesAMemberIntoCompactJSON() throws {
        func merged(_ json: String, _ value: JSONValue) -> String? {
            var output: [UInt8] = []
            let bytes = Array(json.utf8)
            let done = bytes.withUnsafeBytes {
                RepodataWriter.appendObject($0, inserting: Array("legacy_bz2_md5".utf8), value: value, to: &output)
            }
            return done ? String(decoding: output, as: UTF8.self) : nil
        }
        for (json, value) in [
            (#"{}"#, JSONValue.null),
            (#"{"a":"}","b":[1,{"c":"]"}],"z":{"y":null}}"#, .string("abc")),
            (#"{"legacy_bz2_md5":"old","md5":"x"}"#, .string("new")),
            (#"{"a":1,"legacy_bz2_md5":null}"#, .string("q\"")),
            (#"{"depends":["a \"b\""],"license":"MIT","zz":true}"#, .null),
        ] {
            let object = try JSONValue.parse(string: json).objectValue!
            var expected: [UInt8] = []
            JSONWriter.appendObject(object, extraKey: "legacy_bz2_md5", extraValue: value, to: &expected)
            #expect(merged(json, value) == String(decoding: expected, as: UTF8.self), "\(json)")
        }
        // A key with an escape is left to the dictionary writer.
        #expect(merged(#"{"a\"b":1}"#, .null) == nil)
    }
}
