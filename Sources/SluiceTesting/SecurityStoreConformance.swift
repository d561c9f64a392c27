import Crypto
import Foundation
import SluiceCore
import Testing

/// The behaviour every ``SecurityStore`` must have (users, groups, privileges, API keys, the event log and the
/// revision), as a list of checks that a test target runs against each implementation, each on a fresh, empty store
/// that is also a ``MetadataStore`` (users are created through it):
///
/// ```swift
/// @Test(arguments: SecurityStoreConformance.checks)
/// func memory(_ check: SecurityStoreConformance.Check) async throws {
///     try await check.run(MemoryMetadataStore())
/// }
/// ```
///
/// Timestamps in the checks are whole milliseconds, the precision the SQL store keeps.
public enum SecurityStoreConformance {
    /// A store under test: both protocols, as `MemoryMetadataStore` and `SQLMetadataStore` are.
    public typealias Store = any MetadataStore & SecurityStore

    /// One named check; `run` takes a fresh, empty store.
    public struct Check: Sendable, CustomStringConvertible {
        public var name: String
        public var run: @Sendable (Store) async throws -> Void
        public var description: String { name }
    }

    /// Every check.
    public static let checks: [Check] = [
        Check(name: "users: listed in name order, deleted case-insensitively", run: users),
        Check(name: "groups: create, read, list, update, delete; conflict, notFound, case-insensitive", run: groups),
        Check(name: "groups: members stored once, lowercased; a missing member writes nothing", run: groupMembers),
        Check(name: "deleteUser cascades memberships, privileges and personal keys", run: deleteUserCascades),
        Check(name: "deleteGroup cascades memberships and privileges", run: deleteGroupCascades),
        Check(name: "privileges: every principal kind, ordered by id, duplicates kept single, remove", run: privileges),
        Check(name: "API keys: every field, lookup by hash and id, conflict, personal keys, delete", run: apiKeys),
        Check(name: "markAPIKeyUsed sets lastUsedAt only", run: markAPIKeyUsed),
        Check(name: "events: newest first, paging by id, filter by kind, limit", run: events),
        Check(name: "securityRevision grows on every change, not on reads, key use, events or failures", run: revision),
        Check(name: "20 concurrent adds of one privilege and of distinct keys", run: concurrentWrites),
    ]

    // MARK: Test data

    /// A fixed instant with whole milliseconds.
    public static let instant = Date(timeIntervalSince1970: 1_700_000_000.123)

    /// The lowercase hex sha256 of `text`: the ``APIKey/keyHash`` of a key with that text.
    public static func keyHash(_ text: String) -> String {
        SHA256.hash(data: Data(text.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// A user with a bcrypt-shaped (not real) password hash, created at ``instant``.
    public static func user(_ name: String) -> User {
        User(name: name, email: "\(name.lowercased())@example.org", passwordHash: "$2b$12$\(name)", createdAt: instant)
    }

    /// A feed key for `feeds` with every field set.
    public static func feedKey(text: String, feeds: [String] = ["approved-conda"]) -> APIKey {
        APIKey(
            kind: .feed, displayName: "CI for \(feeds.joined(separator: ", "))", description: "Used by the build farm",
            keyHash: keyHash(text), feeds: feeds, tasks: [.viewDownload, .publishPackages],
            expiresAt: instant.addingTimeInterval(86_400), createdAt: instant, createdBy: "admin")
    }

    /// A personal key of `user`.
    public static func personalKey(text: String, user: String) -> APIKey {
        APIKey(
            kind: .personal, displayName: "\(user)'s laptop", keyHash: keyHash(text), userName: user,
            createdAt: instant, createdBy: user)
    }

    // MARK: Users

    static func users(_ store: Store) async throws {
        #expect(try await store.users().isEmpty)
        for name in ["mallory", "Bob", "alice", "Émile", "zed"] {
            try await store.createUser(user(name))
        }
        let listed = try await store.users()
        #expect(listed.map(\.name) == ["alice", "bob", "mallory", "zed", "émile"])
        #expect(listed.first { $0.name == "bob" }?.displayName == "Bob")
        #expect(listed.first { $0.name == "bob" }?.passwordHash == "$2b$12$Bob")

        #expect(try await store.deleteUser(named: "BOB"))
        #expect(try await store.user(named: "bob") == nil)
        #expect(try await !store.deleteUser(named: "bob"))
        #expect(try await !store.deleteUser(named: "nobody"))
        #expect(try await store.users().map(\.name) == ["alice", "mallory", "zed", "émile"])
        // The name is free again.
        try await store.createUser(user("bob"))
        #expect(try await store.user(named: "Bob") != nil)
    }

    // MARK: Groups

    static func groups(_ store: Store) async throws {
        for name in ["alice", "bob", "carol"] { try await store.createUser(user(name)) }
        #expect(try await store.groups().isEmpty)
        #expect(try await store.group(named: "Network Engineers") == nil)

        let engineers = UserGroup(
            name: "Network Engineers", description: "Promote from unapproved-conda", members: ["bob", "alice"],
            createdAt: instant)
        try await store.createGroup(engineers)
        let stored = try #require(try await store.group(named: "network ENGINEERS"))
        #expect(stored.name == "Network Engineers", "the spelling of the name is kept")
        #expect(stored.description == "Promote from unapproved-conda")
        #expect(stored.members == ["alice", "bob"])
        #expect(stored.createdAt == instant)

        await expectError(.conflict) { try await store.createGroup(UserGroup(name: "NETWORK engineers")) }
        await expectError(.invalidInput) { try await store.createGroup(UserGroup(name: "")) }
        #expect(try await store.group(named: "Network Engineers") == stored, "a failed create changes nothing")

        try await store.createGroup(UserGroup(name: "auditors", createdAt: instant))
        try await store.createGroup(UserGroup(name: "Admins", members: ["carol"], createdAt: instant))
        #expect(try await store.groups().map(\.name) == ["Admins", "auditors", "Network Engineers"])
        #expect(try await store.groups().first { $0.name == "auditors" }?.members == [])

        var changed = stored
        changed.name = "NETWORK ENGINEERS"
        changed.description = "Promoters"
        changed.members = ["carol"]
        changed.createdAt = Date(timeIntervalSince1970: 0)
        try await store.updateGroup(changed)
        let updated = try #require(try await store.group(named: "Network Engineers"))
        #expect(updated.name == "Network Engineers")
        #expect(updated.description == "Promoters")
        #expect(updated.members == ["carol"])
        #expect(updated.createdAt == instant, "the creation time stays")
        await expectError(.notFound) { try await store.updateGroup(UserGroup(name: "ghosts")) }
        #expect(try await store.group(named: "ghosts") == nil)

        #expect(try await store.groups(ofUser: "CAROL") == ["Admins", "Network Engineers"])
        #expect(try await store.groups(ofUser: "alice") == [])
        #expect(try await store.groups(ofUser: "nobody") == [])

        #expect(try await store.deleteGroup(named: "admins"))
        #expect(try await !store.deleteGroup(named: "Admins"))
        #expect(try await store.group(named: "Admins") == nil)
        #expect(try await store.groups().map(\.name) == ["auditors", "Network Engineers"])
        #expect(try await store.groups(ofUser: "carol") == ["Network Engineers"])
        #expect(try await store.user(named: "carol") != nil, "deleting a group keeps its users")
    }

    static func groupMembers(_ store: Store) async throws {
        try await store.createUser(user("Alice"))
        try await store.createUser(user("bob"))
        try await store.createGroup(
            UserGroup(name: "readers", members: ["ALICE", "alice", "Bob", "bob"], createdAt: instant))
        #expect(try await store.group(named: "readers")?.members == ["alice", "bob"])

        // A missing member: notFound, and nothing of the group is written.
        await expectError(.notFound) {
            try await store.createGroup(UserGroup(name: "writers", members: ["alice", "ghost"], createdAt: instant))
        }
        #expect(try await store.group(named: "writers") == nil)
        #expect(try await store.groups(ofUser: "alice") == ["readers"])
        try await store.createGroup(UserGroup(name: "writers", createdAt: instant))

        await expectError(.notFound) {
            try await store.updateGroup(UserGroup(name: "readers", description: "x", members: ["bob", "ghost"]))
        }
        let readers = try #require(try await store.group(named: "readers"))
        #expect(readers.members == ["alice", "bob"], "a failed update keeps the members")
        #expect(readers.description == "", "a failed update keeps the description")

        try await store.updateGroup(UserGroup(name: "readers", members: []))
        #expect(try await store.group(named: "readers")?.members == [])
        #expect(try await store.groups(ofUser: "alice") == [])
    }

    // MARK: Cascades

    static func deleteUserCascades(_ store: Store) async throws {
        for name in ["Alice", "bob"] { try await store.createUser(user(name)) }
        try await store.createGroup(UserGroup(name: "team", members: ["alice", "bob"], createdAt: instant))
        try await store.createGroup(UserGroup(name: "solo", members: ["alice"], createdAt: instant))
        let alicePrivilege = try await store.addPrivilege(
            Privilege(principal: .user("ALICE"), task: .publishPackages, feed: "main", createdAt: instant))
        let bobPrivilege = try await store.addPrivilege(
            Privilege(principal: .user("bob"), task: .viewDownload, createdAt: instant))
        let groupPrivilege = try await store.addPrivilege(
            Privilege(principal: .group("team"), task: .promotePackages, feed: "main", createdAt: instant))
        let anonymous = try await store.addPrivilege(
            Privilege(principal: .anonymous, task: .viewDownload, createdAt: instant))
        let personal = try await store.createAPIKey(personalKey(text: "alice-key-0001", user: "Alice"))
        let bobsKey = try await store.createAPIKey(personalKey(text: "bob-key-00001", user: "bob"))
        let feedKey = try await store.createAPIKey(feedKey(text: "feed-key-0001"))

        #expect(try await store.deleteUser(named: "aLiCe"))
        #expect(try await store.group(named: "team")?.members == ["bob"])
        #expect(try await store.group(named: "solo")?.members == [], "the group itself stays")
        #expect(try await store.groups(ofUser: "alice") == [])
        #expect(try await store.privileges() == [bobPrivilege, groupPrivilege, anonymous])
        #expect(try await !store.privileges().contains(alicePrivilege))
        #expect(try await store.apiKey(id: personal.id) == nil)
        #expect(try await store.apiKey(hash: personal.keyHash) == nil)
        #expect(try await store.apiKeys() == [bobsKey, feedKey])

        // A user created later under the same name inherits nothing.
        try await store.createUser(user("alice"))
        #expect(try await store.groups(ofUser: "alice") == [])
        #expect(try await store.privileges().allSatisfy { $0.principal.name?.lowercased() != "alice" })
    }

    static func deleteGroupCascades(_ store: Store) async throws {
        for name in ["alice", "bob"] { try await store.createUser(user(name)) }
        try await store.createGroup(
            UserGroup(name: "Network Engineers", members: ["alice", "bob"], createdAt: instant))
        try await store.createGroup(UserGroup(name: "Others", members: ["bob"], createdAt: instant))
        _ = try await store.addPrivilege(
            Privilege(
                principal: .group("network engineers"), task: .promotePackages, feed: "unapproved-conda",
                createdAt: instant))
        _ = try await store.addPrivilege(
            Privilege(principal: .group("Network Engineers"), task: .deletePackages, isRestriction: true))
        let others = try await store.addPrivilege(
            Privilege(principal: .group("Others"), task: .viewDownload, createdAt: instant))
        let userPrivilege = try await store.addPrivilege(
            Privilege(principal: .user("Network Engineers"), task: .viewDownload, createdAt: instant))

        #expect(try await store.deleteGroup(named: "NETWORK ENGINEERS"))
        #expect(try await store.privileges() == [others, userPrivilege], "a user principal of the same name stays")
        #expect(try await store.groups(ofUser: "alice") == [])
        #expect(try await store.groups(ofUser: "bob") == ["Others"])
        #expect(try await store.users().map(\.name) == ["alice", "bob"])

        // A group created later under the same name starts empty and without privileges.
        try await store.createGroup(UserGroup(name: "network engineers", createdAt: instant))
        #expect(try await store.group(named: "Network Engineers")?.members == [])
        #expect(try await store.privileges() == [others, userPrivilege])
    }

    // MARK: Privileges

    static func privileges(_ store: Store) async throws {
        #expect(try await store.privileges().isEmpty)
        let principals: [Principal] = [
            .user("Admin"), .group("Network Engineers"), .anonymous, .authenticated, .everyone,
        ]
        var added: [Privilege] = []
        for (index, principal) in principals.enumerated() {
            let privilege = Privilege(
                principal: principal, task: SecurityTask.allCases[index], feed: index.isMultiple(of: 2) ? nil : "main",
                isRestriction: index == 3, createdAt: instant.addingTimeInterval(Double(index)),
                createdBy: index == 0 ? nil : "admin")
            let stored = try await store.addPrivilege(privilege)
            #expect(stored.id > 0)
            var expected = privilege
            expected.id = stored.id
            #expect(stored == expected, "every field round-trips")
            added.append(stored)
        }
        #expect(Set(added.map(\.id)).count == added.count)
        #expect(added.map(\.id) == added.map(\.id).sorted())
        #expect(try await store.privileges() == added)

        // An identical privilege (names case-insensitively) is not duplicated: the existing one comes back.
        let again = try await store.addPrivilege(
            Privilege(principal: .user("ADMIN"), task: .viewDownload, createdAt: instant, createdBy: "someone else"))
        #expect(again == added[0])
        let anonymousAgain = try await store.addPrivilege(
            Privilege(principal: .anonymous, task: .promotePackages, feed: nil, createdAt: Date()))
        #expect(anonymousAgain == added[2])
        #expect(try await store.privileges() == added)

        // Differing in feed, kind, task or principal makes another privilege.
        let variants = [
            Privilege(principal: .user("Admin"), task: .viewDownload, feed: "main", createdAt: instant),
            Privilege(principal: .user("Admin"), task: .viewDownload, isRestriction: true, createdAt: instant),
            Privilege(principal: .user("Admin"), task: .publishPackages, createdAt: instant),
            Privilege(principal: .group("Admin"), task: .viewDownload, createdAt: instant),
            Privilege(principal: .user("Admin"), task: .viewDownload, feed: "Main", createdAt: instant),
        ]
        for variant in variants {
            let stored = try await store.addPrivilege(variant)
            #expect(!added.map(\.id).contains(stored.id), "\(variant)")
            added.append(stored)
        }
        #expect(try await store.privileges() == added)

        #expect(try await store.removePrivilege(id: added[1].id) == added[1])
        #expect(try await store.removePrivilege(id: added[1].id) == nil)
        #expect(try await store.removePrivilege(id: 999_999) == nil)
        added.remove(at: 1)
        #expect(try await store.privileges() == added)

        // Ids are not reused after a removal.
        let last = try #require(added.last)
        #expect(try await store.removePrivilege(id: last.id) == last)
        let fresh = try await store.addPrivilege(
            Privilege(principal: .everyone, task: .viewDownload, feed: "fresh", createdAt: instant))
        #expect(fresh.id > last.id)
    }

    // MARK: API keys

    static func apiKeys(_ store: Store) async throws {
        try await store.createUser(user("Alice"))
        #expect(try await store.apiKeys().isEmpty)
        #expect(try await store.apiKey(hash: keyHash("missing")) == nil)
        #expect(try await store.apiKey(id: 1) == nil)

        let feed = feedKey(text: "Zm9vYmFyYmF6-0001", feeds: ["approved-conda", "unapproved-conda"])
        let storedFeed = try await store.createAPIKey(feed)
        #expect(storedFeed.id > 0)
        var expected = feed
        expected.id = storedFeed.id
        #expect(storedFeed == expected, "every field round-trips, expiry included")
        #expect(storedFeed.expiresAt == instant.addingTimeInterval(86_400))

        let personal = try await store.createAPIKey(personalKey(text: "alice-laptop-key", user: "ALICE"))
        #expect(personal.userName == "alice", "the user as stored")
        #expect(personal.feeds.isEmpty && personal.tasks.isEmpty && personal.expiresAt == nil)
        let system = try await store.createAPIKey(
            APIKey(
                kind: .system, displayName: "Automation", keyHash: keyHash("system-key-text"), userName: "Alice",
                createdAt: instant, lastUsedAt: instant))
        #expect(system.lastUsedAt == instant)
        #expect(system.userName == nil, "only personal keys name a user")
        #expect(personal.id > storedFeed.id && system.id > personal.id)

        // Lookup by the sha256 of the text (in any letter case), and by id.
        #expect(try await store.apiKey(hash: keyHash("Zm9vYmFyYmF6-0001")) == storedFeed)
        #expect(try await store.apiKey(hash: keyHash("Zm9vYmFyYmF6-0001").uppercased()) == storedFeed)
        #expect(try await store.apiKey(hash: keyHash("zm9vYmFyYmF6-0001")) == nil, "the text is case-sensitive")
        #expect(try await store.apiKey(hash: keyHash("alice-laptop-key")) == personal)
        #expect(try await store.apiKey(id: system.id) == system)
        #expect(try await store.apiKeys() == [storedFeed, personal, system])

        // The same text twice: conflict, whatever else differs.
        await expectError(.conflict) {
            try await store.createAPIKey(
                APIKey(kind: .system, displayName: "Other", keyHash: keyHash("Zm9vYmFyYmF6-0001"), createdAt: instant))
        }
        await expectError(.conflict) {
            var upper = feedKey(text: "Zm9vYmFyYmF6-0001")
            upper.keyHash = upper.keyHash.uppercased()
            try await store.createAPIKey(upper)
        }
        // A personal key needs an existing user.
        await expectError(.notFound) {
            try await store.createAPIKey(personalKey(text: "ghost-key-0001", user: "ghost"))
        }
        await expectError(.invalidInput) {
            try await store.createAPIKey(
                APIKey(kind: .personal, displayName: "nobody's", keyHash: keyHash("nobody-0001")))
        }
        #expect(try await store.apiKeys() == [storedFeed, personal, system], "failed creates write nothing")

        #expect(try await store.deleteAPIKey(id: personal.id) == personal)
        #expect(try await store.deleteAPIKey(id: personal.id) == nil)
        #expect(try await store.apiKey(hash: personal.keyHash) == nil)
        #expect(try await store.apiKeys() == [storedFeed, system])
        #expect(try await store.user(named: "alice") != nil, "deleting a personal key keeps its user")

        // Ids are not reused; the text of a deleted key may be used again.
        let reused = try await store.createAPIKey(personalKey(text: "alice-laptop-key", user: "alice"))
        #expect(reused.id > system.id)
    }

    static func markAPIKeyUsed(_ store: Store) async throws {
        let key = try await store.createAPIKey(feedKey(text: "used-key-00001"))
        let other = try await store.createAPIKey(feedKey(text: "other-key-0001"))
        #expect(key.lastUsedAt == nil)
        let used = instant.addingTimeInterval(3_600)
        #expect(try await store.markAPIKeyUsed(id: key.id, at: used))
        var expected = key
        expected.lastUsedAt = used
        #expect(try await store.apiKey(id: key.id) == expected)
        #expect(try await store.apiKey(hash: key.keyHash)?.lastUsedAt == used)
        #expect(try await store.apiKey(id: other.id) == other)
        let later = used.addingTimeInterval(61)
        #expect(try await store.markAPIKeyUsed(id: key.id, at: later))
        #expect(try await store.apiKey(id: key.id)?.lastUsedAt == later)
        #expect(try await !store.markAPIKeyUsed(id: 999_999, at: later))
        _ = try await store.deleteAPIKey(id: other.id)
        #expect(try await !store.markAPIKeyUsed(id: other.id, at: later))
    }

    // MARK: Events

    static func events(_ store: Store) async throws {
        #expect(try await store.events(limit: 10, beforeID: nil, kind: nil).isEmpty)
        var recorded: [SecurityEvent] = []
        for index in 0..<12 {
            let event = SecurityEvent(
                kind: index.isMultiple(of: 3) ? "login-failed" : "privilege-added",
                actor: index == 0 ? nil : "admin", subject: index == 1 ? nil : "user \(index)",
                detail: "event number \(index)", remoteAddress: index.isMultiple(of: 2) ? "127.0.0.1" : nil,
                at: instant.addingTimeInterval(Double(index)))
            let stored = try await store.recordEvent(event)
            var expected = event
            expected.id = stored.id
            #expect(stored == expected, "every field round-trips")
            if let previous = recorded.last { #expect(stored.id > previous.id) }
            recorded.append(stored)
        }
        let newestFirst = Array(recorded.reversed())
        #expect(try await store.events(limit: 100, beforeID: nil, kind: nil) == newestFirst)
        #expect(try await store.events(limit: 5, beforeID: nil, kind: nil) == Array(newestFirst[0..<5]))

        // Paging: each page starts below the last id of the one before.
        var pages: [SecurityEvent] = []
        var before: Int64?
        while true {
            let page = try await store.events(limit: 5, beforeID: before, kind: nil)
            if page.isEmpty { break }
            #expect(page.count <= 5)
            pages += page
            before = page.last?.id
        }
        #expect(pages == newestFirst)

        let failures = newestFirst.filter { $0.kind == "login-failed" }
        #expect(failures.count == 4)
        #expect(try await store.events(limit: 100, beforeID: nil, kind: "login-failed") == failures)
        #expect(try await store.events(limit: 2, beforeID: nil, kind: "login-failed") == Array(failures[0..<2]))
        #expect(
            try await store.events(limit: 100, beforeID: failures[1].id, kind: "login-failed")
                == Array(failures[2...]))
        #expect(try await store.events(limit: 100, beforeID: nil, kind: "no-such-kind").isEmpty)
        #expect(try await store.events(limit: 0, beforeID: nil, kind: nil).isEmpty)
        #expect(try await store.events(limit: 100, beforeID: recorded[0].id, kind: nil).isEmpty)
    }

    // MARK: Revision

    static func revision(_ store: Store) async throws {
        var last = try await store.securityRevision()

        /// Runs `change` and expects the revision to have grown (`grows`) or to be unchanged.
        func step(_ what: String, grows: Bool, _ change: () async throws -> Void) async throws {
            try await change()
            let now = try await store.securityRevision()
            if grows {
                #expect(now > last, "\(what) changes the revision")
            } else {
                #expect(now == last, "\(what) leaves the revision")
            }
            last = now
        }

        try await step("createUser", grows: true) { try await store.createUser(user("alice")) }
        try await step("createUser", grows: true) { try await store.createUser(user("bob")) }
        try await step("updateUser", grows: true) {
            var alice = try #require(try await store.user(named: "alice"))
            alice.passwordHash = "$2b$12$changed"
            try await store.updateUser(alice)
        }
        try await step("createGroup", grows: true) {
            try await store.createGroup(UserGroup(name: "team", members: ["alice"], createdAt: instant))
        }
        try await step("updateGroup", grows: true) {
            try await store.updateGroup(UserGroup(name: "team", members: ["alice", "bob"]))
        }
        var privilege = Privilege(principal: .group("team"), task: .promotePackages, feed: "main", createdAt: instant)
        try await step("addPrivilege", grows: true) { privilege = try await store.addPrivilege(privilege) }
        try await step("addPrivilege of an identical privilege", grows: false) {
            _ = try await store.addPrivilege(privilege)
        }
        var key = feedKey(text: "revision-key-01")
        try await step("createAPIKey", grows: true) { key = try await store.createAPIKey(key) }
        try await step("reads, markAPIKeyUsed and events", grows: false) {
            _ = try await store.users()
            _ = try await store.groups()
            _ = try await store.group(named: "team")
            _ = try await store.groups(ofUser: "alice")
            _ = try await store.privileges()
            _ = try await store.apiKeys()
            _ = try await store.apiKey(hash: key.keyHash)
            #expect(try await store.markAPIKeyUsed(id: key.id, at: instant))
            _ = try await store.recordEvent(SecurityEvent(kind: "login-failed", subject: "alice", at: instant))
            _ = try await store.events(limit: 10, beforeID: nil, kind: nil)
        }
        try await step("failed changes", grows: false) {
            await expectError(.conflict) { try await store.createUser(user("ALICE")) }
            await expectError(.conflict) { try await store.createGroup(UserGroup(name: "TEAM")) }
            await expectError(.notFound) { try await store.updateGroup(UserGroup(name: "nobody")) }
            await expectError(.notFound) {
                try await store.createGroup(UserGroup(name: "new", members: ["ghost"], createdAt: instant))
            }
            await expectError(.conflict) { try await store.createAPIKey(feedKey(text: "revision-key-01")) }
            let removedPrivilege = try await store.removePrivilege(id: 999_999)
            let deletedKey = try await store.deleteAPIKey(id: 999_999)
            let deletedUser = try await store.deleteUser(named: "ghost")
            let deletedGroup = try await store.deleteGroup(named: "ghosts")
            #expect(removedPrivilege == nil && deletedKey == nil && !deletedUser && !deletedGroup)
        }
        try await step("removePrivilege", grows: true) { _ = try await store.removePrivilege(id: privilege.id) }
        try await step("deleteAPIKey", grows: true) { _ = try await store.deleteAPIKey(id: key.id) }
        try await step("deleteGroup", grows: true) { _ = try await store.deleteGroup(named: "team") }
        try await step("deleteUser", grows: true) { _ = try await store.deleteUser(named: "bob") }
    }

    // MARK: Concurrency

    static func concurrentWrites(_ store: Store) async throws {
        let privilege = Privilege(principal: .anonymous, task: .viewDownload, createdAt: instant)
        let ids = try await withThrowingTaskGroup(of: Int64.self) { group in
            for _ in 0..<20 {
                group.addTask { try await store.addPrivilege(privilege).id }
            }
            return try await group.reduce(into: Set<Int64>()) { $0.insert($1) }
        }
        #expect(ids.count == 1, "one privilege, whoever added it")
        #expect(try await store.privileges().count == 1)

        let keys = try await withThrowingTaskGroup(of: APIKey.self) { group in
            for index in 0..<20 {
                group.addTask { try await store.createAPIKey(feedKey(text: "concurrent-key-\(index)")) }
            }
            return try await group.reduce(into: [APIKey]()) { $0.append($1) }
        }
        #expect(Set(keys.map(\.id)).count == 20)
        #expect(try await store.apiKeys().map(\.id) == keys.map(\.id).sorted())
        for index in 0..<20 {
            #expect(try await store.apiKey(hash: keyHash("concurrent-key-\(index)"))?.feeds == ["approved-conda"])
        }
    }
}

/// Runs every ``SecurityStoreConformance`` check, each on a fresh store from `makeStore`; `tearDown` (for example
/// `shutdown()`) runs after each check.
public func runSecurityStoreConformance(
    _ makeStore: () async throws -> SecurityStoreConformance.Store,
    tearDown: (SecurityStoreConformance.Store) async throws -> Void = { _ in }
) async throws {
    for check in SecurityStoreConformance.checks {
        let store = try await makeStore()
        do {
            try await check.run(store)
        } catch {
            Issue.record("Check '\(check.name)' threw \(error)")
        }
        try await tearDown(store)
    }
}
