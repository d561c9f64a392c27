import Crypto
import Foundation
import SluiceCore
import Testing

/// The behaviour every ``MetadataStore`` must have, as a list of checks that a test target runs against each
/// implementation (memory, SQLite, later PostgreSQL), each check on a fresh, empty store:
///
/// ```swift
/// @Test(arguments: MetadataStoreConformance.checks)
/// func memory(_ check: MetadataStoreConformance.Check) async throws {
///     try await check.run(MemoryMetadataStore())
/// }
/// ```
///
/// Timestamps in the checks are whole milliseconds, the precision the SQL store keeps.
public enum MetadataStoreConformance {
    /// One named check; `run` takes a fresh, empty store.
    public struct Check: Sendable, CustomStringConvertible {
        public var name: String
        public var run: @Sendable (any MetadataStore) async throws -> Void
        public var description: String { name }
    }

    /// Every check.
    public static let checks: [Check] = [
        Check(name: "feeds: create, read, list, update, delete, conflict, notFound", run: feeds),
        Check(name: "feeds: deleting a feed deletes its packages", run: cascadeDelete),
        Check(name: "addPackage: added, unchanged, conflict, replaced, notFound", run: addPackageOutcomes),
        Check(name: "addPackage: 20 concurrent adds of one file", run: concurrentAdds),
        Check(name: "packages: by subdir and by name, ordered; subdirs", run: listings),
        Check(name: "deletePackage and referenceCount", run: deleteAndReferenceCount),
        Check(name: "users: case-insensitive names", run: users),
        Check(name: "records round-trip every JSON field type", run: recordRoundTrip),
        Check(name: "ping", run: { try await $0.ping() }),
        Check(name: "connectors: round trip of every field, list, update, conflict, notFound", run: connectorRoundTrip),
        Check(name: "feeds: connectors kept in order; unknown → notFound, twice → invalidInput", run: feedConnectors),
        Check(name: "deleteConnector: conflict naming the feeds; cascades its cache rows", run: deleteConnector),
        Check(name: "upstream snapshots: upsert returns the previous row; notFound marker", run: upstreamSnapshots),
        Check(name: "cached files: added, unchanged, replaced, ordered, accessed, deleted", run: cachedFiles),
        Check(name: "upserts: 20 concurrent snapshot saves and cached-file records", run: concurrentUpserts),
        Check(name: "referenceCount counts packages, cached files and snapshots", run: sharedBlobReferences),
        Check(name: "promote: added with history, alreadyPromoted, conflict writes nothing, notFound", run: promote),
        Check(name: "promotions: filters, newest first, deletions recorded, batches", run: promotionHistory),
        Check(name: "promote: 20 concurrent promotions of one file, and of different files", run: concurrentPromotions),
    ]

    // MARK: Test data

    /// A fixed instant with whole milliseconds.
    public static let instant = Date(timeIntervalSince1970: 1_700_000_000.123)

    /// A real record: `zlib-1.2.11-h7b6447c_3.conda` from the conda-format-repo fixture channel.
    public static func realRecord() throws -> PackageRecord {
        let url = Fixtures.condaFormatRepo.appendingPathComponent("linux-64/repodata.json")
        let repodata = try JSONValue.parse(Array(try Data(contentsOf: url)))
        let filename = "zlib-1.2.11-h7b6447c_3.conda"
        let fields = try #require(repodata["packages.conda"]?[filename]?.objectValue)
        return PackageRecord(filename: filename, fields: fields)
    }

    /// A package row made from the real record (``realRecord()``), renamed to `filename` in `subdir` with the given
    /// content address; uploaded at a fixed instant.
    public static func package(
        feed: String, subdir: String = "linux-64", filename: String = "zlib-1.2.11-h7b6447c_3.conda",
        sha256: String = String(repeating: "a", count: 64), uploadedBy: String? = "alice"
    ) throws -> StoredPackage {
        var record = try realRecord()
        let parsed = try #require(PackageFilename(filename))
        record.filename = filename
        record.fields["name"] = .string(parsed.name)
        record.fields["version"] = .string(parsed.version)
        record.fields["build"] = .string(parsed.build)
        record.fields["subdir"] = .string(subdir)
        record.fields["sha256"] = .string(sha256)
        return StoredPackage(
            feed: feed, subdir: subdir, record: record,
            channelData: ["home": .string("https://zlib.net"), "run_exports": .object([:])],
            uploadedAt: instant, uploadedBy: uploadedBy)
    }

    static func sha(_ digit: Character) -> String { String(repeating: digit, count: 64) }

    // MARK: Checks

    static func feeds(_ store: any MetadataStore) async throws {
        let beta = Feed(name: "beta", kind: .proxy, description: "Mirror", active: false, createdAt: instant)
        let alpha = Feed(name: "alpha", description: "Internal builds", createdAt: instant.addingTimeInterval(1))
        #expect(try await store.feeds().isEmpty)
        #expect(try await store.feed(named: "alpha") == nil)
        try await store.createFeed(beta)
        try await store.createFeed(alpha)
        #expect(try await store.feeds() == [alpha, beta])
        #expect(try await store.feed(named: "beta") == beta)
        #expect(try await store.feed(named: "BETA") == nil, "feed names are exact")

        await expectError(.conflict) { try await store.createFeed(Feed(name: "alpha", createdAt: instant)) }
        #expect(try await store.feed(named: "alpha") == alpha, "a failed create changes nothing")

        var changed = alpha
        changed.description = "Changed"
        changed.active = false
        changed.kind = .proxy
        changed.feedType = "conda"
        try await store.updateFeed(changed)
        #expect(try await store.feed(named: "alpha") == changed)
        await expectError(.notFound) { try await store.updateFeed(Feed(name: "gamma", createdAt: instant)) }
        #expect(try await store.feed(named: "gamma") == nil)

        #expect(try await store.deleteFeed(named: "alpha"))
        #expect(try await store.deleteFeed(named: "alpha") == false)
        #expect(try await store.feed(named: "alpha") == nil)
        #expect(try await store.feeds() == [beta])
    }

    static func cascadeDelete(_ store: any MetadataStore) async throws {
        try await store.createFeed(Feed(name: "doomed", createdAt: instant))
        try await store.createFeed(Feed(name: "kept", createdAt: instant))
        let shared = sha("1")
        for feed in ["doomed", "kept"] {
            _ = try await store.addPackage(try package(feed: feed, sha256: shared), overwrite: false)
        }
        _ = try await store.addPackage(
            try package(feed: "doomed", subdir: "noarch", filename: "six-1.16.0-pyhd8ed1ab_0.conda", sha256: sha("2")),
            overwrite: false)
        #expect(try await store.referenceCount(sha256: shared) == 2)

        #expect(try await store.deleteFeed(named: "doomed"))
        #expect(try await store.packages(feed: "doomed", subdir: "linux-64").isEmpty)
        #expect(try await store.packages(feed: "doomed", subdir: "noarch").isEmpty)
        #expect(try await store.subdirs(feed: "doomed").isEmpty)
        #expect(try await store.referenceCount(sha256: shared) == 1)
        #expect(try await store.referenceCount(sha256: sha("2")) == 0)
        #expect(try await store.packages(feed: "kept", subdir: "linux-64").count == 1)

        // A feed created again under the same name starts empty.
        try await store.createFeed(Feed(name: "doomed", createdAt: instant))
        #expect(try await store.subdirs(feed: "doomed").isEmpty)
    }

    static func addPackageOutcomes(_ store: any MetadataStore) async throws {
        let original = try package(feed: "main", sha256: sha("a"))
        await expectError(.notFound) { _ = try await store.addPackage(original, overwrite: false) }

        try await store.createFeed(Feed(name: "main", createdAt: instant))
        #expect(try await store.addPackage(original, overwrite: false) == .added)
        #expect(try await store.addPackage(original, overwrite: false) == .unchanged)
        #expect(try await store.addPackage(original, overwrite: true) == .unchanged)

        var other = try package(feed: "main", sha256: sha("b"), uploadedBy: "bob")
        other.record.fields["md5"] = .string("0123456789abcdef0123456789abcdef")
        other.md5 = "0123456789abcdef0123456789abcdef"
        other.size = 4242
        other.record.fields["size"] = .int(4242)
        await expectError(.conflict) { _ = try await store.addPackage(other, overwrite: false) }
        let afterConflict = try await store.package(feed: "main", subdir: "linux-64", filename: original.filename)
        #expect(afterConflict == original, "a conflict changes nothing")

        #expect(try await store.addPackage(other, overwrite: true) == .replaced(previousSHA256: sha("a")))
        let afterReplace = try await store.package(feed: "main", subdir: "linux-64", filename: original.filename)
        #expect(afterReplace == other)
        #expect(try await store.packages(feed: "main", subdir: "linux-64").count == 1)
        #expect(try await store.referenceCount(sha256: sha("a")) == 0)
        #expect(try await store.referenceCount(sha256: sha("b")) == 1)

        // The same file name in another subdir is another file.
        let elsewhere = try package(feed: "main", subdir: "osx-64", sha256: sha("c"))
        #expect(try await store.addPackage(elsewhere, overwrite: false) == .added)
        #expect(try await store.subdirs(feed: "main") == ["linux-64", "osx-64"])
    }

    static func concurrentAdds(_ store: any MetadataStore) async throws {
        try await store.createFeed(Feed(name: "race", createdAt: instant))

        // Twenty uploads of the same bytes: one adds, the others find it there.
        let same = try package(feed: "race", sha256: sha("c"))
        let outcomes = try await withThrowingTaskGroup(of: AddPackageOutcome.self) { group in
            for _ in 0..<20 {
                group.addTask { try await store.addPackage(same, overwrite: false) }
            }
            return try await group.reduce(into: [AddPackageOutcome]()) { $0.append($1) }
        }
        #expect(outcomes.count { $0 == .added } == 1)
        #expect(outcomes.count { $0 == .unchanged } == 19)
        #expect(try await store.packages(feed: "race", subdir: "linux-64") == [same])

        // Twenty uploads of different bytes under one new name, without overwrite: one wins, nineteen conflict.
        let filename = "race-1.0-0.tar.bz2"
        let results = await withTaskGroup(of: Result<AddPackageOutcome, SluiceError>.self) { group in
            for index in 0..<20 {
                group.addTask {
                    do {
                        let candidate = try package(
                            feed: "race", filename: filename, sha256: String(format: "%064x", index + 1))
                        return .success(try await store.addPackage(candidate, overwrite: false))
                    } catch let error as SluiceError {
                        return .failure(error)
                    } catch {
                        return .failure(SluiceError(.internalError, "\(error)"))
                    }
                }
            }
            return await group.reduce(into: [Result<AddPackageOutcome, SluiceError>]()) { $0.append($1) }
        }
        let added = results.count { if case .success(.added) = $0 { true } else { false } }
        let conflicts = results.count { if case .failure(let error) = $0 { error.code == .conflict } else { false } }
        #expect(added == 1)
        #expect(
            conflicts == 19,
            "unexpected outcomes: \(results.filter { if case .failure(let e) = $0 { e.code != .conflict } else { false } })"
        )
        let rows = try await store.packages(feed: "race", subdir: "linux-64").filter { $0.filename == filename }
        #expect(rows.count == 1)
    }

    static func listings(_ store: any MetadataStore) async throws {
        try await store.createFeed(Feed(name: "main", createdAt: instant))
        try await store.createFeed(Feed(name: "other", createdAt: instant))
        let files: [(subdir: String, filename: String)] = [
            ("linux-64", "zlib-1.2.11-h7b6447c_3.tar.bz2"),
            ("linux-64", "zlib-1.2.11-h7b6447c_3.conda"),
            ("linux-64", "Zeta-1.0-0.conda"),
            ("linux-64", "zlib-1.2.13-h5eee18b_1.conda"),
            ("osx-64", "zlib-1.2.11-h1de35cc_3.conda"),
            ("noarch", "six-1.16.0-pyhd8ed1ab_0.conda"),
            ("linux-64", "_libgcc_mutex-0.1-main.conda"),
        ]
        for (index, file) in files.enumerated() {
            let digit = Character(String(index, radix: 16))
            _ = try await store.addPackage(
                try package(feed: "main", subdir: file.subdir, filename: file.filename, sha256: sha(digit)),
                overwrite: false)
        }
        _ = try await store.addPackage(try package(feed: "other", sha256: sha("f")), overwrite: false)

        // Ordered by the bytes of the file name: uppercase before '_' before lowercase; ".conda" before ".tar.bz2".
        let linux = try await store.packages(feed: "main", subdir: "linux-64").map(\.filename)
        #expect(
            linux == [
                "Zeta-1.0-0.conda", "_libgcc_mutex-0.1-main.conda", "zlib-1.2.11-h7b6447c_3.conda",
                "zlib-1.2.11-h7b6447c_3.tar.bz2", "zlib-1.2.13-h5eee18b_1.conda",
            ])
        #expect(try await store.packages(feed: "main", subdir: "win-64").isEmpty)
        #expect(try await store.packages(feed: "missing", subdir: "linux-64").isEmpty)

        let zlib = try await store.packages(feed: "main", name: "zlib").map { "\($0.subdir)/\($0.filename)" }
        #expect(
            zlib == [
                "linux-64/zlib-1.2.11-h7b6447c_3.conda", "linux-64/zlib-1.2.11-h7b6447c_3.tar.bz2",
                "linux-64/zlib-1.2.13-h5eee18b_1.conda", "osx-64/zlib-1.2.11-h1de35cc_3.conda",
            ])
        #expect(try await store.packages(feed: "other", name: "zlib").count == 1)
        #expect(try await store.packages(feed: "main", name: "numpy").isEmpty)
        #expect(try await store.subdirs(feed: "main") == ["linux-64", "noarch", "osx-64"])
        #expect(try await store.subdirs(feed: "other") == ["linux-64"])
        #expect(try await store.subdirs(feed: "missing").isEmpty)
    }

    static func deleteAndReferenceCount(_ store: any MetadataStore) async throws {
        try await store.createFeed(Feed(name: "main", createdAt: instant))
        try await store.createFeed(Feed(name: "copy", createdAt: instant))
        let first = try package(feed: "main", sha256: sha("d"))
        let second = try package(feed: "main", subdir: "osx-64", sha256: sha("d"))
        let third = try package(feed: "copy", sha256: sha("d"))
        for row in [first, second, third] { _ = try await store.addPackage(row, overwrite: false) }
        #expect(try await store.referenceCount(sha256: sha("d")) == 3)
        #expect(try await store.referenceCount(sha256: sha("e")) == 0)

        let removed = try await store.deletePackage(feed: "main", subdir: "linux-64", filename: first.filename)
        #expect(removed == first)
        #expect(try await store.deletePackage(feed: "main", subdir: "linux-64", filename: first.filename) == nil)
        #expect(try await store.package(feed: "main", subdir: "linux-64", filename: first.filename) == nil)
        #expect(try await store.package(feed: "main", subdir: "osx-64", filename: first.filename) == second)
        #expect(try await store.referenceCount(sha256: sha("d")) == 2)
        #expect(try await store.subdirs(feed: "main") == ["osx-64"])
        #expect(try await store.deletePackage(feed: "nowhere", subdir: "linux-64", filename: first.filename) == nil)
    }

    static func users(_ store: any MetadataStore) async throws {
        #expect(try await store.user(named: "alice") == nil)
        let created = Date(timeIntervalSince1970: 1_650_000_000.5)
        try await store.createUser(
            User(name: "Alice", email: "alice@example.org", passwordHash: "$2b$12$abc", createdAt: created))
        let stored = try #require(try await store.user(named: "aLiCe"))
        #expect(stored.name == "alice")
        #expect(stored.displayName == "Alice")
        #expect(stored.email == "alice@example.org")
        #expect(stored.passwordHash == "$2b$12$abc")
        #expect(stored.createdAt == created)
        #expect(try await store.user(named: "ALICE") == stored)

        await expectError(.conflict) { try await store.createUser(User(name: "alice", passwordHash: "x")) }
        await expectError(.conflict) { try await store.createUser(User(name: "ALICE", passwordHash: "x")) }
        #expect(try await store.user(named: "alice") == stored, "a failed create changes nothing")

        try await store.createUser(
            User(name: "bob", displayName: "Robert Builder", passwordHash: "h", createdAt: created))
        #expect(try await store.user(named: "Bob")?.displayName == "Robert Builder")

        var changed = stored
        changed.name = "ALICE"
        changed.email = "a@example.com"
        changed.passwordHash = "$2b$12$new"
        changed.displayName = "Alice A."
        try await store.updateUser(changed)
        let updated = try #require(try await store.user(named: "alice"))
        #expect(updated.name == "alice")
        #expect(updated.email == "a@example.com")
        #expect(updated.passwordHash == "$2b$12$new")
        #expect(updated.displayName == "Alice A.")
        await expectError(.notFound) { try await store.updateUser(User(name: "carol", passwordHash: "h")) }
        #expect(try await store.user(named: "carol") == nil)
    }

    static func recordRoundTrip(_ store: any MetadataStore) async throws {
        try await store.createFeed(Feed(name: "main", createdAt: instant))
        var record = try realRecord()
        // Every kind of JSON value a record can carry, beside the real fields.
        record.fields["noarch"] = .string("python")
        record.fields["track_features"] = .string("")
        record.fields["constrains"] = .array([.string("openssl >=3.0,<4.0a0"), .string("pypy <0a0")])
        record.fields["features"] = .null
        record.fields["legacy_bz2_md5"] = .null
        record.fields["preferred"] = .bool(true)
        record.fields["deprecated"] = .bool(false)
        record.fields["big"] = .int(Int64.max)
        record.fields["negative"] = .int(Int64.min)
        record.fields["ratio"] = .double(0.1)
        record.fields["half"] = .double(-2.5)
        record.fields["nested"] = .object([
            "list": .array([.int(1), .double(1.5), .string("two"), .null, .object(["deep": .bool(true)])]),
            "empty_object": .object([:]), "empty_array": .array([]),
        ])
        record.fields["unicode"] = .string("naïve – 日本語 – emoji 🐍 – quote \" backslash \\ slash / tab \t newline \n")
        record.fields["control"] = .string("\u{0001}\u{001F}")
        let row = StoredPackage(
            feed: "main", subdir: "linux-64", record: record,
            channelData: [
                "description": .string("A massively spiffy yet delicately unobtrusive compression library."),
                "run_exports": .object(["weak": .array([.string("zlib >=1.2.11,<1.3.0a0")])]),
                "icon_hash": .null, "keywords": .array([]),
            ],
            uploadedAt: instant, uploadedBy: nil)
        #expect(try await store.addPackage(row, overwrite: false) == .added)
        let read = try #require(try await store.package(feed: "main", subdir: "linux-64", filename: record.filename))
        #expect(read.record == record)
        #expect(read.channelData == row.channelData)
        #expect(read == row)
        #expect(read.uploadedBy == nil)
        #expect(read.record.depends == ["libgcc-ng >=7.3.0"])
        #expect(try await store.packages(feed: "main", subdir: "linux-64") == [row])
        #expect(try await store.packages(feed: "main", name: "zlib") == [row])
    }
}

// MARK: Connectors and the proxy cache

extension MetadataStoreConformance {
    /// A connector with every field set to a value other than its default.
    public static func fullConnector(name: String = "anaconda-main") -> Connector {
        Connector(
            name: name, url: "https://repo.anaconda.com/pkgs/main", feedType: "conda",
            description: "Anaconda's main channel – ünïcode", timeout: 45, metadataCacheEnabled: false,
            metadataCacheMinutes: 90, username: "mirror-bot", password: "s3cr3t:with/odd chars",
            filters: ["numpy*", "lib?", "!evil-*"], createdAt: instant)
    }

    /// A real upstream file: `linux-64/zlib-1.2.11-h7b6447c_3.conda` of the conda-format-repo fixture channel, with its
    /// sha256 and size computed from its bytes.
    public static func realCachedFile(connector: String, cachedAt: Date = instant) throws -> CachedUpstreamFile {
        let bytes = try Data(
            contentsOf: Fixtures.condaFormatRepo.appendingPathComponent("linux-64/zlib-1.2.11-h7b6447c_3.conda"))
        return CachedUpstreamFile(
            connector: connector, subdir: "linux-64", filename: "zlib-1.2.11-h7b6447c_3.conda",
            sha256: hexSHA256(bytes), size: Int64(bytes.count), cachedAt: cachedAt)
    }

    /// The snapshot row of a real upstream repodata: the conda-format-repo fixture's `<subdir>/repodata.json`, its
    /// sha256 and record count computed from the file.
    public static func realSnapshot(
        connector: String, subdir: String = "linux-64", etag: String? = "\"5f1c-abc\"", fetchedAt: Date = instant
    ) throws -> UpstreamSnapshotRow {
        let bytes = try Data(contentsOf: Fixtures.condaFormatRepo.appendingPathComponent("\(subdir)/repodata.json"))
        let repodata = try JSONValue.parse(Array(bytes))
        let count =
            (repodata["packages"]?.objectValue?.count ?? 0) + (repodata["packages.conda"]?.objectValue?.count ?? 0)
        return UpstreamSnapshotRow(
            connector: connector, subdir: subdir, status: .present, sha256: hexSHA256(bytes), etag: etag,
            lastModified: "Tue, 15 Nov 2022 08:12:31 GMT", upstreamFilename: "repodata.json.zst", fetchedAt: fetchedAt,
            recordCount: count)
    }

    static func hexSHA256(_ data: Data) -> String {
        SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
    }

    static func connectorRoundTrip(_ store: any MetadataStore) async throws {
        #expect(try await store.connectors().isEmpty)
        #expect(try await store.connector(named: "anaconda-main") == nil)
        let full = fullConnector()
        let minimal = Connector(name: "forge", url: "http://127.0.0.1:8080/conda-forge", createdAt: instant)
        try await store.createConnector(minimal)
        try await store.createConnector(full)
        // Every field, including the optional ones set and unset, survives.
        #expect(try await store.connector(named: "anaconda-main") == full)
        let readMinimal = try #require(try await store.connector(named: "forge"))
        #expect(readMinimal == minimal)
        #expect(readMinimal.username == nil && readMinimal.password == nil && readMinimal.filters.isEmpty)
        #expect(readMinimal.timeout == 30 && readMinimal.metadataCacheMinutes == 30 && readMinimal.metadataCacheEnabled)
        #expect(try await store.connectors() == [full, minimal])
        #expect(try await store.connector(named: "FORGE") == nil, "connector names are exact")

        await expectError(.conflict) {
            try await store.createConnector(Connector(name: "forge", url: "https://other.example", createdAt: instant))
        }
        #expect(try await store.connector(named: "forge") == minimal, "a failed create changes nothing")

        var changed = full
        changed.url = "https://conda.anaconda.org/conda-forge"
        changed.description = ""
        changed.timeout = 5
        changed.metadataCacheEnabled = true
        changed.metadataCacheMinutes = 0
        changed.username = nil
        changed.password = nil
        changed.filters = ["!pytest"]
        changed.createdAt = instant.addingTimeInterval(60)
        try await store.updateConnector(changed)
        #expect(try await store.connector(named: "anaconda-main") == changed)
        await expectError(.notFound) {
            try await store.updateConnector(Connector(name: "ghost", url: "https://ghost.example", createdAt: instant))
        }
        #expect(try await store.connector(named: "ghost") == nil)

        #expect(try await store.deleteConnector(named: "forge"))
        #expect(try await store.deleteConnector(named: "forge") == false)
        #expect(try await store.connectors() == [changed])
    }

    static func feedConnectors(_ store: any MetadataStore) async throws {
        for name in ["zeta", "alpha", "mid"] {
            try await store.createConnector(
                Connector(name: name, url: "https://\(name).example/channel", createdAt: instant))
        }
        // Order is the feed's, not the names'.
        let proxy = Feed(
            name: "unapproved-conda", kind: .proxy, createdAt: instant, connectors: ["zeta", "alpha", "mid"])
        try await store.createFeed(proxy)
        try await store.createFeed(Feed(name: "approved-conda", createdAt: instant))
        #expect(try await store.feed(named: "unapproved-conda")?.connectors == ["zeta", "alpha", "mid"])
        #expect(try await store.feed(named: "approved-conda")?.connectors == [])
        #expect(try await store.feeds().map(\.connectors) == [[], ["zeta", "alpha", "mid"]])
        #expect(try await store.feed(named: "unapproved-conda") == proxy)

        await expectError(.notFound) {
            try await store.createFeed(Feed(name: "broken", createdAt: instant, connectors: ["alpha", "nope"]))
        }
        #expect(try await store.feed(named: "broken") == nil, "a feed with an unknown connector is not created")
        await expectError(.invalidInput) {
            try await store.createFeed(Feed(name: "twice", createdAt: instant, connectors: ["alpha", "alpha"]))
        }
        #expect(try await store.feed(named: "twice") == nil)

        var reordered = proxy
        reordered.connectors = ["mid", "zeta"]
        reordered.description = "reordered"
        try await store.updateFeed(reordered)
        #expect(try await store.feed(named: "unapproved-conda") == reordered)

        var invalid = reordered
        invalid.connectors = ["mid", "missing"]
        invalid.description = "must not stick"
        await expectError(.notFound) { try await store.updateFeed(invalid) }
        invalid.connectors = ["zeta", "zeta"]
        await expectError(.invalidInput) { try await store.updateFeed(invalid) }
        #expect(try await store.feed(named: "unapproved-conda") == reordered, "a failed update changes nothing")

        // A hosted feed gains connectors, then loses them all.
        var approved = try #require(try await store.feed(named: "approved-conda"))
        approved.connectors = ["alpha"]
        try await store.updateFeed(approved)
        #expect(try await store.feed(named: "approved-conda")?.connectors == ["alpha"])
        approved.connectors = []
        try await store.updateFeed(approved)
        #expect(try await store.feed(named: "approved-conda")?.connectors == [])
    }

    static func deleteConnector(_ store: any MetadataStore) async throws {
        try await store.createConnector(fullConnector(name: "upstream"))
        try await store.createConnector(fullConnector(name: "spare"))
        try await store.createFeed(Feed(name: "one", createdAt: instant, connectors: ["upstream"]))
        try await store.createFeed(Feed(name: "two", createdAt: instant, connectors: ["spare", "upstream"]))
        try await store.saveUpstreamSnapshot(try realSnapshot(connector: "upstream"))
        try await store.recordCachedFile(try realCachedFile(connector: "upstream"))

        do {
            _ = try await store.deleteConnector(named: "upstream")
            Issue.record("deleting a connector in use succeeded")
        } catch let error as SluiceError {
            #expect(error.code == .conflict)
            #expect(error.message.contains("'one'") && error.message.contains("'two'"), "\(error.message)")
        }
        #expect(try await store.connector(named: "upstream") != nil, "a refused delete changes nothing")
        #expect(try await store.upstreamSnapshot(connector: "upstream", subdir: "linux-64") != nil)

        var two = try #require(try await store.feed(named: "two"))
        two.connectors = ["spare"]
        try await store.updateFeed(two)
        do {
            _ = try await store.deleteConnector(named: "upstream")
            Issue.record("deleting a connector still used by feed 'one' succeeded")
        } catch let error as SluiceError {
            #expect(error.code == .conflict)
            #expect(error.message.contains("'one'") && !error.message.contains("'two'"), "\(error.message)")
        }

        // Deleting the feed releases the connector; deleting the connector drops its cache rows.
        #expect(try await store.deleteFeed(named: "one"))
        let blob = try realCachedFile(connector: "upstream").sha256
        #expect(try await store.referenceCount(sha256: blob) == 1)
        #expect(try await store.deleteConnector(named: "upstream"))
        #expect(try await store.connector(named: "upstream") == nil)
        #expect(try await store.upstreamSnapshot(connector: "upstream", subdir: "linux-64") == nil)
        #expect(try await store.upstreamSnapshots(connector: "upstream").isEmpty)
        #expect(try await store.cachedFiles(connector: "upstream").isEmpty)
        #expect(try await store.referenceCount(sha256: blob) == 0)
        #expect(try await store.feed(named: "two")?.connectors == ["spare"])

        // A connector created again under the same name starts with an empty cache.
        try await store.createConnector(fullConnector(name: "upstream"))
        #expect(try await store.cachedFiles(connector: "upstream").isEmpty)
    }

    static func upstreamSnapshots(_ store: any MetadataStore) async throws {
        let linux = try realSnapshot(connector: "main")
        await expectError(.notFound) { try await store.saveUpstreamSnapshot(linux) }
        try await store.createConnector(fullConnector(name: "main"))
        try await store.createConnector(fullConnector(name: "other"))
        #expect(try await store.upstreamSnapshot(connector: "main", subdir: "linux-64") == nil)

        #expect(try await store.saveUpstreamSnapshot(linux) == nil)
        #expect(try await store.upstreamSnapshot(connector: "main", subdir: "linux-64") == linux)
        #expect(linux.recordCount == 3, "the fixture's linux-64 holds zlib (.conda, .tar.bz2) and libgcc-ng")

        // A refresh (a 304 or new repodata) replaces the row and hands back the old one.
        var refreshed = try realSnapshot(connector: "main", subdir: "osx-64", etag: nil)
        refreshed.subdir = "linux-64"
        refreshed.fetchedAt = instant.addingTimeInterval(1800)
        refreshed.upstreamFilename = nil
        #expect(try await store.saveUpstreamSnapshot(refreshed) == linux)
        #expect(try await store.upstreamSnapshot(connector: "main", subdir: "linux-64") == refreshed)

        // The upstream has no win-arm64: a marker, not a missing row.
        let missing = UpstreamSnapshotRow.notFound(connector: "main", subdir: "win-arm64", fetchedAt: instant)
        try await store.saveUpstreamSnapshot(missing)
        let readMissing = try #require(try await store.upstreamSnapshot(connector: "main", subdir: "win-arm64"))
        #expect(readMissing == missing)
        #expect(readMissing.status == .notFound && readMissing.sha256 == nil && readMissing.etag == nil)
        // …that can later turn into a present subdir.
        let appeared = try realSnapshot(connector: "main", subdir: "noarch")
        var appearedHere = appeared
        appearedHere.subdir = "win-arm64"
        #expect(try await store.saveUpstreamSnapshot(appearedHere) == missing)

        try await store.saveUpstreamSnapshot(try realSnapshot(connector: "main", subdir: "noarch"))
        try await store.saveUpstreamSnapshot(try realSnapshot(connector: "other", subdir: "osx-64"))
        #expect(
            try await store.upstreamSnapshots(connector: "main").map(\.subdir) == ["linux-64", "noarch", "win-arm64"])
        #expect(try await store.upstreamSnapshots(connector: "other").map(\.subdir) == ["osx-64"])
        #expect(try await store.upstreamSnapshots(connector: "nobody").isEmpty)
        #expect(try await store.upstreamSnapshot(connector: "other", subdir: "linux-64") == nil)
    }

    static func cachedFiles(_ store: any MetadataStore) async throws {
        let zlib = try realCachedFile(connector: "main")
        await expectError(.notFound) { try await store.recordCachedFile(zlib) }
        try await store.createConnector(fullConnector(name: "main"))
        try await store.createConnector(fullConnector(name: "other"))

        #expect(try await store.recordCachedFile(zlib) == .added)
        #expect(try await store.cachedFile(connector: "main", subdir: "linux-64", filename: zlib.filename) == zlib)
        #expect(zlib.size == (try realRecord().size), "the fixture file has the size its record says")

        // Recording it again is a no-op, whatever the timestamps say.
        var again = zlib
        again.cachedAt = instant.addingTimeInterval(99)
        #expect(try await store.recordCachedFile(again) == .unchanged)
        #expect(try await store.cachedFile(connector: "main", subdir: "linux-64", filename: zlib.filename) == zlib)

        // The upstream now has other bytes under the name: the row moves to them and names the old blob.
        var other = zlib
        other.sha256 = sha("c")
        other.size = 42
        other.cachedAt = instant.addingTimeInterval(3600)
        #expect(try await store.recordCachedFile(other) == .replaced(previousSHA256: zlib.sha256))
        #expect(try await store.cachedFile(connector: "main", subdir: "linux-64", filename: zlib.filename) == other)

        let entries: [(subdir: String, filename: String)] = [
            ("noarch", "six-1.16.0-pyhd8ed1ab_0.conda"), ("linux-64", "Zeta-1.0-0.conda"),
            ("linux-64", "_libgcc_mutex-0.1-main.conda"), ("linux-64", "zlib-1.2.11-h7b6447c_3.tar.bz2"),
        ]
        for (index, entry) in entries.enumerated() {
            try await store.recordCachedFile(
                CachedUpstreamFile(
                    connector: "main", subdir: entry.subdir, filename: entry.filename,
                    sha256: sha(Character(String(index))), size: Int64(index), cachedAt: instant))
        }
        try await store.recordCachedFile(realCachedFile(connector: "other"))
        #expect(
            try await store.cachedFiles(connector: "main").map { "\($0.subdir)/\($0.filename)" } == [
                "linux-64/Zeta-1.0-0.conda", "linux-64/_libgcc_mutex-0.1-main.conda",
                "linux-64/zlib-1.2.11-h7b6447c_3.conda", "linux-64/zlib-1.2.11-h7b6447c_3.tar.bz2",
                "noarch/six-1.16.0-pyhd8ed1ab_0.conda",
            ])
        #expect(try await store.cachedFiles(connector: "other").count == 1)
        #expect(try await store.cachedFiles(connector: "nobody").isEmpty)
        #expect(try await store.cachedFile(connector: "main", subdir: "osx-64", filename: zlib.filename) == nil)

        // Last access only moves forward.
        let later = instant.addingTimeInterval(7200)
        #expect(
            try await store.markCachedFileAccessed(
                connector: "main", subdir: "linux-64", filename: zlib.filename, at: later))
        #expect(
            try await store.cachedFile(connector: "main", subdir: "linux-64", filename: zlib.filename)?.lastAccessedAt
                == later)
        #expect(
            try await store.markCachedFileAccessed(
                connector: "main", subdir: "linux-64", filename: zlib.filename, at: instant))
        #expect(
            try await store.cachedFile(connector: "main", subdir: "linux-64", filename: zlib.filename)?.lastAccessedAt
                == later)
        #expect(
            try await store.markCachedFileAccessed(
                connector: "main", subdir: "linux-64", filename: "nope.conda", at: later)
                == false)

        var accessed = other
        accessed.lastAccessedAt = later
        #expect(
            try await store.deleteCachedFile(connector: "main", subdir: "linux-64", filename: zlib.filename) == accessed
        )
        #expect(try await store.deleteCachedFile(connector: "main", subdir: "linux-64", filename: zlib.filename) == nil)
        #expect(try await store.cachedFile(connector: "main", subdir: "linux-64", filename: zlib.filename) == nil)
        #expect(try await store.cachedFile(connector: "other", subdir: "linux-64", filename: zlib.filename) != nil)
    }

    static func concurrentUpserts(_ store: any MetadataStore) async throws {
        try await store.createConnector(fullConnector(name: "race"))
        let file = try realCachedFile(connector: "race")
        let outcomes = try await withThrowingTaskGroup(of: AddPackageOutcome.self) { group in
            for index in 0..<20 {
                var attempt = file
                attempt.cachedAt = instant.addingTimeInterval(Double(index))
                group.addTask { try await store.recordCachedFile(attempt) }
            }
            return try await group.reduce(into: [AddPackageOutcome]()) { $0.append($1) }
        }
        #expect(outcomes.count { $0 == .added } == 1)
        #expect(outcomes.count { $0 == .unchanged } == 19)
        #expect(try await store.cachedFiles(connector: "race").map(\.sha256) == [file.sha256])

        let snapshot = try realSnapshot(connector: "race")
        let previous = try await withThrowingTaskGroup(of: UpstreamSnapshotRow?.self) { group in
            for index in 0..<20 {
                var attempt = snapshot
                attempt.fetchedAt = instant.addingTimeInterval(Double(index))
                attempt.etag = "\"\(index)\""
                group.addTask { try await store.saveUpstreamSnapshot(attempt) }
            }
            return try await group.reduce(into: [UpstreamSnapshotRow?]()) { $0.append($1) }
        }
        // Exactly one save found no row; every other one replaced a row some save wrote.
        let replacedTags: [String] = previous.compactMap { row in row.flatMap(\.etag) }
        #expect(previous.count { $0 == nil } == 1)
        #expect(replacedTags.count == 19)
        #expect(Set(replacedTags).count == 19, "each save replaced a different row")
        let saved = try await store.upstreamSnapshots(connector: "race")
        #expect(saved.count == 1)
        let finalTag = try #require(saved.first?.etag)
        #expect(!replacedTags.contains(finalTag), "the last save is the one that stays")
        #expect(try await store.referenceCount(sha256: snapshot.sha256 ?? "") == 1)
    }

    static func sharedBlobReferences(_ store: any MetadataStore) async throws {
        // One blob, the real zlib .conda: uploaded to a hosted feed and cached from two connectors.
        let cached = try realCachedFile(connector: "first")
        let hosted = try realRecord()
        #expect(hosted.sha256 == cached.sha256, "the fixture's record describes the fixture's file")
        try await store.createFeed(Feed(name: "hosted", createdAt: instant))
        _ = try await store.addPackage(
            StoredPackage(feed: "hosted", subdir: "linux-64", record: hosted, uploadedAt: instant), overwrite: false)
        #expect(try await store.referenceCount(sha256: cached.sha256) == 1)

        try await store.createConnector(fullConnector(name: "first"))
        try await store.createConnector(fullConnector(name: "second"))
        try await store.recordCachedFile(cached)
        var viaSecond = cached
        viaSecond.connector = "second"
        try await store.recordCachedFile(viaSecond)
        #expect(try await store.referenceCount(sha256: cached.sha256) == 3)

        // A snapshot blob counts too, and so does a second subdir's snapshot of the same bytes.
        let snapshot = try realSnapshot(connector: "first")
        let repodataBlob = try #require(snapshot.sha256)
        #expect(try await store.referenceCount(sha256: repodataBlob) == 0)
        try await store.saveUpstreamSnapshot(snapshot)
        var sameBytes = snapshot
        sameBytes.connector = "second"
        try await store.saveUpstreamSnapshot(sameBytes)
        #expect(try await store.referenceCount(sha256: repodataBlob) == 2)
        // A not-found marker references nothing.
        try await store.saveUpstreamSnapshot(.notFound(connector: "first", subdir: "win-64", fetchedAt: instant))
        #expect(try await store.referenceCount(sha256: repodataBlob) == 2)

        // Releasing the references one by one; the blob is free only at the end.
        #expect(try await store.deletePackage(feed: "hosted", subdir: "linux-64", filename: hosted.filename) != nil)
        #expect(try await store.referenceCount(sha256: cached.sha256) == 2)
        _ = try await store.deleteCachedFile(connector: "first", subdir: "linux-64", filename: cached.filename)
        #expect(try await store.referenceCount(sha256: cached.sha256) == 1)
        var replaced = viaSecond
        replaced.sha256 = sha("b")
        #expect(try await store.recordCachedFile(replaced) == .replaced(previousSHA256: cached.sha256))
        #expect(try await store.referenceCount(sha256: cached.sha256) == 0)

        // Replacing a snapshot releases its old blob.
        try await store.saveUpstreamSnapshot(.notFound(connector: "first", subdir: "linux-64", fetchedAt: instant))
        #expect(try await store.referenceCount(sha256: repodataBlob) == 1)
        #expect(try await store.deleteConnector(named: "second"))
        #expect(try await store.referenceCount(sha256: repodataBlob) == 0)
        #expect(try await store.referenceCount(sha256: sha("b")) == 0)
    }
}

/// Expects `body` to throw a `SluiceError` with `code`.
func expectError(
    _ code: SluiceError.Code, sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> Void
) async {
    do {
        try await body()
        Issue.record("Expected a SluiceError \(code), but nothing was thrown.", sourceLocation: sourceLocation)
    } catch let error as SluiceError {
        #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("Expected a SluiceError \(code), got \(error).", sourceLocation: sourceLocation)
    }
}

/// Runs every ``MetadataStoreConformance`` check, each on a fresh store from `makeStore`; `tearDown` (for example
/// `shutdown()`) runs after each check.
public func runMetadataStoreConformance(
    _ makeStore: () async throws -> any MetadataStore,
    tearDown: (any MetadataStore) async throws -> Void = { _ in }
) async throws {
    for check in MetadataStoreConformance.checks {
        let store = try await makeStore()
        do {
            try await check.run(store)
        } catch {
            Issue.record("Check '\(check.name)' threw \(error)")
        }
        try await tearDown(store)
    }
}

// MARK: Promotions

extension MetadataStoreConformance {
    /// A promotion batch of `filenames` (in `subdir`) from `fromFeed` into `toFeed`, with sha256 `sha(digit)` each.
    static func promotionBatch(
        from fromFeed: String = "unapproved", to toFeed: String = "approved", files: [(String, String, String)],
        user: String? = "alice", comments: String = "approved by QA", date: Date = instant
    ) throws -> PromotionBatch {
        PromotionBatch(
            fromFeed: fromFeed, toFeed: toFeed,
            packages: try files.map { subdir, filename, sha256 in
                var row = try package(feed: toFeed, subdir: subdir, filename: filename, sha256: sha256)
                row.uploadedBy = user
                return row
            },
            user: user, comments: comments, date: date)
    }

    static func promote(_ store: any MetadataStore) async throws {
        try await store.createFeed(Feed(name: "unapproved", kind: .hosted, createdAt: instant))
        try await store.createFeed(Feed(name: "approved", createdAt: instant))
        let zlib = "zlib-1.2.11-h7b6447c_3.conda"
        let other = "other-1.0-0.tar.bz2"
        // The source holds the blob already: promoting adds references, counted as package rows only.
        _ = try await store.addPackage(
            try package(feed: "unapproved", filename: zlib, sha256: sha("a")), overwrite: false)
        #expect(try await store.referenceCount(sha256: sha("a")) == 1)

        let batch = try promotionBatch(files: [("linux-64", zlib, sha("a")), ("noarch", other, sha("b"))])
        let results = try await store.promote(batch)
        #expect(results.count == 2)
        guard case .promoted(let first) = results[0], case .promoted(let second) = results[1] else {
            Issue.record("expected two promotions, got \(results)")
            return
        }
        #expect(first.kind == .promote && first.fromFeed == "unapproved" && first.toFeed == "approved")
        #expect(first.filename == zlib && first.subdir == "linux-64" && first.sha256 == sha("a"))
        #expect(first.name == "zlib" && first.version == "1.2.11" && first.build == "h7b6447c_3")
        #expect(first.user == "alice" && first.comments == "approved by QA" && first.date == instant)
        #expect(second.id > first.id, "ids increase in order")
        #expect(first.batch == second.batch, "one call is one batch")
        #expect(try await store.package(feed: "approved", subdir: "linux-64", filename: zlib) == batch.packages[0])
        #expect(try await store.package(feed: "approved", subdir: "noarch", filename: other) == batch.packages[1])
        #expect(try await store.referenceCount(sha256: sha("a")) == 2, "source and target rows, no history rows")
        #expect(try await store.referenceCount(sha256: sha("b")) == 1)

        // Again: nothing is written, no history row is added.
        let again = try await store.promote(try promotionBatch(files: [("linux-64", zlib, sha("a"))]))
        #expect(again == [.alreadyPromoted(batch.packages[0])])
        #expect(try await store.promotions(fromFeed: nil, toFeed: nil, package: nil, version: nil).count == 2)

        // Other bytes under a promoted name: conflict, and the new file of the same batch is not written either.
        let clash = try promotionBatch(files: [("noarch", "fresh-1.0-0.conda", sha("c")), ("linux-64", zlib, sha("d"))])
        await expectError(.conflict) { _ = try await store.promote(clash) }
        #expect(try await store.package(feed: "approved", subdir: "noarch", filename: "fresh-1.0-0.conda") == nil)
        #expect(try await store.package(feed: "approved", subdir: "linux-64", filename: zlib)?.sha256 == sha("a"))
        #expect(try await store.promotions(fromFeed: nil, toFeed: nil, package: nil, version: nil).count == 2)
        #expect(try await store.referenceCount(sha256: sha("c")) == 0)

        // Unknown target feed; a row of another feed.
        await expectError(.notFound) {
            _ = try await store.promote(try promotionBatch(to: "missing", files: [("noarch", other, sha("b"))]))
        }
        var mismatched = try promotionBatch(files: [("noarch", "x-1.0-0.conda", sha("e"))])
        mismatched.packages[0].feed = "unapproved"
        await expectError(.invalidInput) { _ = try await store.promote(mismatched) }
        #expect(try await store.package(feed: "unapproved", subdir: "noarch", filename: "x-1.0-0.conda") == nil)
        // An empty batch does nothing.
        #expect(try await store.promote(try promotionBatch(files: [])).isEmpty)
    }

    static func promotionHistory(_ store: any MetadataStore) async throws {
        for name in ["unapproved", "approved", "staging"] {
            try await store.createFeed(Feed(name: name, createdAt: instant))
        }
        _ = try await store.promote(
            try promotionBatch(
                to: "staging", files: [("linux-64", "zlib-1.2.11-h7b6447c_3.conda", sha("a"))], user: nil,
                comments: "first"))
        _ = try await store.promote(
            try promotionBatch(
                from: "staging",
                files: [
                    ("linux-64", "zlib-1.2.11-h7b6447c_3.conda", sha("a")),
                    ("osx-64", "zlib-1.2.11-h7b6447c_3.conda", sha("b")),
                ], comments: "second", date: instant.addingTimeInterval(60)))
        _ = try await store.promote(
            try promotionBatch(files: [("noarch", "flask-2.0-py_0.tar.bz2", sha("c"))], comments: "third"))

        let all = try await store.promotions(fromFeed: nil, toFeed: nil, package: nil, version: nil)
        #expect(all.map(\.comments) == ["third", "second", "second", "first"], "newest first")
        #expect(Set(all.map(\.id)).count == 4)
        #expect(all[1].batch == all[2].batch && all[1].batch != all[0].batch && all[1].batch != all[3].batch)
        #expect(all[3].user == nil && all[3].fromFeed == "unapproved" && all[3].toFeed == "staging")
        #expect(all[1].date == instant.addingTimeInterval(60))

        #expect(try await store.promotions(fromFeed: "staging", toFeed: nil, package: nil, version: nil).count == 2)
        #expect(try await store.promotions(fromFeed: nil, toFeed: "staging", package: nil, version: nil).count == 1)
        #expect(try await store.promotions(fromFeed: nil, toFeed: nil, package: "flask", version: nil).count == 1)
        #expect(try await store.promotions(fromFeed: nil, toFeed: nil, package: "zlib", version: "1.2.11").count == 3)
        #expect(try await store.promotions(fromFeed: nil, toFeed: nil, package: "zlib", version: "1.2.8").isEmpty)
        #expect(
            try await store.promotions(fromFeed: "unapproved", toFeed: "approved", package: "zlib", version: nil)
                .isEmpty)

        // A deletion from the approved feed is recorded beside the promotions.
        let removed = try #require(
            try await store.deletePackage(feed: "approved", subdir: "osx-64", filename: "zlib-1.2.11-h7b6447c_3.conda"))
        let event = try await store.recordPackageEvent(
            PromotionRecord(deleting: removed, user: "admin", comments: "withdrawn", date: instant))
        #expect(event.id > all[0].id && event.batch == event.id)
        let latest = try await store.promotions(fromFeed: nil, toFeed: "approved", package: "zlib", version: nil)
        #expect(latest.first == event)
        #expect(event.kind == .delete && event.fromFeed == nil && event.sha256 == sha("b") && event.subdir == "osx-64")
        #expect(try await store.promotions(fromFeed: "staging", toFeed: nil, package: nil, version: nil).count == 2)
        #expect(try await store.referenceCount(sha256: sha("b")) == 0, "history rows are not blob references")
    }

    static func concurrentPromotions(_ store: any MetadataStore) async throws {
        try await store.createFeed(Feed(name: "approved", createdAt: instant))
        let same = try promotionBatch(files: [("linux-64", "zlib-1.2.11-h7b6447c_3.conda", sha("a"))])
        let results = try await withThrowingTaskGroup(of: [PromotionResult].self) { group in
            for _ in 0..<20 {
                group.addTask { try await store.promote(same) }
            }
            return try await group.reduce(into: [PromotionResult]()) { $0 += $1 }
        }
        #expect(results.count { if case .promoted = $0 { true } else { false } } == 1)
        #expect(results.count { $0 == .alreadyPromoted(same.packages[0]) } == 19)
        #expect(try await store.packages(feed: "approved", subdir: "linux-64") == same.packages)
        #expect(try await store.promotions(fromFeed: nil, toFeed: "approved", package: nil, version: nil).count == 1)

        // Twenty different files at once: all land, each with one history row and a distinct id.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<20 {
                group.addTask {
                    let batch = try promotionBatch(
                        files: [("noarch", "pkg\(index)-1.0-0.conda", String(format: "%064x", index + 1))])
                    _ = try await store.promote(batch)
                }
            }
            try await group.waitForAll()
        }
        #expect(try await store.packages(feed: "approved", subdir: "noarch").count == 20)
        let history = try await store.promotions(fromFeed: nil, toFeed: "approved", package: nil, version: nil)
        #expect(history.count == 21)
        #expect(Set(history.map(\.id)).count == 21)
        #expect(history.map(\.id) == history.map(\.id).sorted(by: >))
    }
}
