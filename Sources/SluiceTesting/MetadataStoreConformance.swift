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
