import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdBcrypt
import HummingbirdTesting
import Logging
import NIOCore
import SluiceCore
import Testing

@testable import SluiceServer

/// Every way a credential reaches Sluice, the answers to bad ones, rate limiting, and keeping keys out of logs.
@Suite("Credentials")
struct CredentialTests {
    static let feed = "private"
    static let file = "dummy-package-1.0-0.tar.bz2"
    static let readerPassword = "reader-password-1"

    /// A server without anonymous access, with a feed holding one package, a user `reader` who may view it, and a
    /// feed key (view) for it and one for another feed.
    struct Setup: Sendable {
        var server: TestServer
        var key: String
        var otherFeedKey: String
    }

    static func setUp(
        logger: Logger = Logger(label: "sluice.test"), access: AccessControl.Configuration = .init()
    ) async throws -> Setup {
        let server = try await TestServer.make(anonymousView: false, access: access, logger: logger)
        try await server.metadata.createUser(
            User(name: "reader", passwordHash: Bcrypt.hash(readerPassword, cost: 4)))
        try await server.metadata.addPrivilege(Privilege(principal: .user("reader"), task: .viewDownload, feed: feed))
        let access = server.services.access
        let (_, key) = try await access.createAPIKey(
            APIKey(kind: .feed, displayName: "ci", keyHash: "", feeds: [feed], tasks: [.viewDownload]),
            customText: nil)
        let (_, other) = try await access.createAPIKey(
            APIKey(kind: .feed, displayName: "elsewhere", keyHash: "", feeds: ["other"], tasks: [.viewDownload]),
            customText: nil)
        await access.securityChanged()
        return Setup(server: server, key: key, otherFeedKey: other)
    }

    static func prepareFeed(_ client: some TestClientProtocol) async throws {
        try await client.createFeed(feed)
        try await client.createFeed("other")
        let response = try await client.upload(feed: feed, group: "conda-index", file: file)
        #expect(response.status == .created)
    }

    /// The ways of carrying a key: (name, path, headers).
    static func keyForms(_ key: String, file: String = "repodata.json") -> [(String, String, HTTPFields)] {
        func header(_ name: HTTPField.Name, _ value: String) -> HTTPFields {
            var fields = HTTPFields()
            fields[name] = value
            return fields
        }
        let path = "/conda/\(feed)/osx-64/\(file)"
        return [
            ("Basic api:<key>", path, basicAuth("api", key)),
            ("X-ApiKey", path, header(HTTPField.Name("X-ApiKey")!, key)),
            ("Bearer", path, header(.authorization, "Bearer \(key)")),
            ("token", path, header(.authorization, "token \(key)")),
            ("/t/<key>/conda/…", "/t/\(key)/conda/\(feed)/osx-64/\(file)", HTTPFields()),
            ("/conda/t/<key>/…", "/conda/t/\(key)/\(feed)/osx-64/\(file)", HTTPFields()),
        ]
    }

    @Test func everyCredentialFormOpensAPrivateFeed() async throws {
        let setup = try await Self.setUp()
        try await setup.server.test { client in
            try await Self.prepareFeed(client)
            // Without credentials: 401 with the challenge.
            try await client.execute(uri: "/conda/\(Self.feed)/osx-64/repodata.json", method: .get) { response in
                #expect(response.status == .unauthorized)
                #expect(response.headers[.wwwAuthenticate] == #"Basic realm="Sluice""#)
            }
            // A user's password.
            try await client.execute(
                uri: "/conda/\(Self.feed)/osx-64/repodata.json", method: .get,
                headers: basicAuth("reader", Self.readerPassword)
            ) { response in
                #expect(response.status == .ok)
            }
            for (form, path, headers) in Self.keyForms(setup.key) {
                try await client.execute(uri: path, method: .get, headers: headers) { response in
                    #expect(response.status == .ok, "\(form)")
                    let text = String(buffer: response.body)
                    #expect(text.contains(Self.file), "\(form)")
                    #expect(!text.contains(setup.key), "\(form): the key must not be echoed into repodata")
                }
            }
            for (form, path, headers) in Self.keyForms(setup.key, file: Self.file) {
                try await client.execute(uri: path, method: .get, headers: headers) { response in
                    #expect(response.status == .ok, "package file, \(form)")
                    let expected = try manifestEntry("conda-index", Self.file)
                    #expect(Int64(response.body.readableBytes) == expected.size)
                }
            }
        }
    }

    @Test func aKeyForAnotherFeedIsForbiddenInEveryForm() async throws {
        let setup = try await Self.setUp()
        try await setup.server.test { client in
            try await Self.prepareFeed(client)
            for (form, path, headers) in Self.keyForms(setup.otherFeedKey) {
                try await client.execute(uri: path, method: .get, headers: headers) { response in
                    #expect(response.status == .forbidden, "\(form)")
                    let message = try json(response)["message"]?.stringValue ?? ""
                    #expect(message == "'api-key:elsewhere' lacks the 'View & Download' task on feed 'private'.")
                    #expect(!message.contains(setup.otherFeedKey))
                }
            }
        }
    }

    @Test func wrongKeysAre401InEveryFormAndNeverEchoed() async throws {
        let setup = try await Self.setUp()
        let wrong = "WrongKey1234567890abcdef"
        try await setup.server.test { client in
            try await Self.prepareFeed(client)
            for (form, path, headers) in Self.keyForms(wrong) {
                try await client.execute(uri: path, method: .get, headers: headers) { response in
                    #expect(response.status == .unauthorized, "\(form)")
                    #expect(response.headers[.wwwAuthenticate] == #"Basic realm="Sluice""#, "\(form)")
                    #expect(!String(buffer: response.body).contains(wrong), "\(form)")
                }
            }
            // A wrong key is refused even where anonymous requests are fine (/health).
            try await client.execute(uri: "/health", method: .get, headers: basicAuth("api", wrong)) { response in
                #expect(response.status == .unauthorized)
            }
            // Unknown Authorization schemes too.
            var digest = HTTPFields()
            digest[.authorization] = "Digest username=\"x\""
            try await client.execute(uri: "/health", method: .get, headers: digest) { response in
                #expect(response.status == .unauthorized)
            }
        }
    }

    @Test func personalKeysActAsTheirUserUntilTheUserIsDeleted() async throws {
        let setup = try await Self.setUp()
        let access = setup.server.services.access
        let (stored, text) = try await access.createAPIKey(
            APIKey(kind: .personal, displayName: "reader's laptop", keyHash: "", userName: "READER"),
            customText: "reader-personal-key-01")
        #expect(stored.userName == "reader")
        #expect(stored.keyHash.count == 64 && stored.keyHash != text)
        try await setup.server.test { client in
            try await Self.prepareFeed(client)
            var headers = HTTPFields()
            headers[.authorization] = "Bearer \(text)"
            try await client.execute(uri: "/conda/\(Self.feed)/osx-64/repodata.json", method: .get, headers: headers) {
                #expect($0.status == .ok)
            }
            // It has the user's privileges, not more: no publishing.
            try await client.execute(
                uri: "/api/packages/\(Self.feed)/upload/\(Self.file)", method: .put, headers: headers,
                body: try fixtureBytes("conda-index", Self.file)
            ) { response in
                #expect(response.status == .forbidden)
                let body = try json(response)
                #expect(body["message"] == .string("'reader' lacks the 'Publish Packages' task on feed 'private'."))
            }
            #expect(await setup.server.metadata.deleteUser(named: "reader"))
            await access.securityChanged()
            try await client.execute(uri: "/conda/\(Self.feed)/osx-64/repodata.json", method: .get, headers: headers) {
                #expect($0.status == .unauthorized)
            }
        }
    }

    @Test func failedSignInsAreRateLimitedPerUserWithRetryAfter() async throws {
        let setup = try await Self.setUp(access: .init(rateLimit: .init(maxFailuresPerUser: 3)))
        try await setup.server.test { client in
            for _ in 0..<3 {
                try await client.execute(
                    uri: "/health", method: .get, headers: basicAuth("reader", "guess-\(UUID())")
                ) { #expect($0.status == .unauthorized) }
            }
            // Now even the right password waits.
            try await client.execute(
                uri: "/health", method: .get, headers: basicAuth("reader", Self.readerPassword)
            ) { response in
                #expect(response.status == .tooManyRequests)
                let retryAfter = try #require(response.headers[.retryAfter].flatMap { Int($0) })
                #expect(retryAfter > 0 && retryAfter <= 300)
                #expect(try json(response)["error"] == .string("tooManyRequests"))
            }
            // Other users are not affected.
            try await client.execute(uri: "/health", method: .get, headers: basicAuth()) {
                #expect($0.status == .ok)
            }
        }
        let events = try await setup.server.metadata.events(limit: 100, beforeID: nil, kind: "login-failed")
        #expect(events.count == 3)
        #expect(events.allSatisfy { $0.actor == "reader" && !$0.detail.contains("guess") })
        #expect(try await setup.server.metadata.events(limit: 10, beforeID: nil, kind: "login-rate-limited").count == 1)
    }

    @Test func failedSignInsAreRateLimitedPerAddressAndSuccessElsewhereDoesNotReset() async throws {
        let metadata = MemoryMetadataStore()
        try await metadata.createUser(User(name: "bob", passwordHash: Bcrypt.hash("bob-password", cost: 4)))
        let access = AccessControl(
            security: metadata, metadata: metadata,
            configuration: .init(rateLimit: .init(maxFailuresPerAddress: 3, maxFailuresPerUser: 100)),
            logger: Logger(label: "sluice.test"))
        // Two failures from A, then bob signs in from B.
        for user in ["bob", "carol"] {
            await #expect(throws: SluiceError.self) {
                try await access.signIn(user: user, password: "wrong", remoteAddress: "10.0.0.1")
            }
        }
        _ = try await access.signIn(user: "bob", password: "bob-password", remoteAddress: "10.0.0.2")
        // A's count was not reset by B's success: its third failure blocks it.
        await #expect(throws: SluiceError.self) {
            try await access.signIn(user: "dave", password: "wrong", remoteAddress: "10.0.0.1")
        }
        let blocked = await #expect(throws: SluiceError.self) {
            try await access.signIn(user: "bob", password: "bob-password", remoteAddress: "10.0.0.1")
        }
        #expect(blocked?.code == .tooManyRequests)
        #expect((blocked?.retryAfter ?? 0) > 0)
        // Wrong keys count against the address too, and B is still fine.
        let keyError = await #expect(throws: SluiceError.self) {
            try await access.authenticate(
                Request(
                    head: .init(method: .get, scheme: "http", authority: "x", path: "/t/abcdefgh12/conda/f/"),
                    body: .init(buffer: ByteBuffer())),
                pathToken: "abcdefgh12", remoteAddress: "10.0.0.1")
        }
        #expect(keyError?.code == .tooManyRequests)
        #expect(
            try await access.signIn(user: "bob", password: "bob-password", remoteAddress: "10.0.0.2").userName == "bob")
    }

    @Test func aSuccessfulSignInClearsOnlyItsOwnAddress() {
        var limiter = LoginRateLimiter(configuration: .init(maxFailuresPerAddress: 5, maxFailuresPerUser: 100))
        let start = ContinuousClock.now
        for _ in 0..<4 { limiter.recordFailure(address: "a", user: "bob", now: start) }
        limiter.recordFailure(address: "b", user: "bob", now: start)
        limiter.recordSuccess(address: "b")
        #expect(limiter.failureCount(address: "a", now: start) == 4)
        #expect(limiter.failureCount(address: "b", now: start) == 0)
        let notYet = limiter.retryAfter(address: "a", user: "bob", now: start)
        #expect(notYet == nil)
        let reached = limiter.recordFailure(address: "a", user: "bob", now: start + .seconds(10))
        #expect(reached)
        let wait = limiter.retryAfter(address: "a", user: "bob", now: start + .seconds(10))
        #expect(wait == 290)
        // The window slides: once the first failures are older than five minutes, "a" may try again.
        let later = limiter.retryAfter(address: "a", user: "bob", now: start + .seconds(300))
        #expect(later == nil)
    }

    @Test func keysNeverReachLogsOrErrorMessages() async throws {
        let (logger, logs) = CapturingLogHandler.logger()
        let setup = try await Self.setUp(logger: logger)
        let expiredText = "expired-key-text-0042"
        _ = try await setup.server.services.access.createAPIKey(
            APIKey(
                kind: .feed, displayName: "old", keyHash: "", feeds: [Self.feed], tasks: [.viewDownload],
                expiresAt: Date().addingTimeInterval(-60)),
            customText: expiredText)
        let wrong = "WrongKeyText00000000"
        let bodies = try await setup.server.test { client in
            var bodies: [String] = []
            try await Self.prepareFeed(client)
            let paths = [
                "/t/\(setup.key)/conda/\(Self.feed)/",  // answered with a 404 message naming the path
                "/conda/t/\(setup.key)/\(Self.feed)/osx-64/missing-1-0.conda",
                "/conda/t/\(setup.key)/\(Self.feed)/../../x",
                "/conda/t/\(setup.key)/no-such-feed/osx-64/repodata.json",
                "/t/\(wrong)/conda/\(Self.feed)/osx-64/repodata.json",
                "/t/\(expiredText)/conda/\(Self.feed)/osx-64/repodata.json",
            ]
            for path in paths {
                let get = try await client.execute(uri: path, method: .get)
                #expect(get.status != .ok, "\(path)")
                bodies.append(String(buffer: get.body))
                let put = try await client.execute(uri: path, method: .put, body: ByteBuffer(string: "x"))
                bodies.append(String(buffer: put.body))
            }
            let basic = try await client.execute(
                uri: "/conda/\(Self.feed)/osx-64/repodata.json", method: .get, headers: basicAuth("api", wrong))
            bodies.append(String(buffer: basic.body))
            let password = try await client.execute(
                uri: "/health", method: .get, headers: basicAuth("reader", "a-wrong-password"))
            bodies.append(String(buffer: password.body))
            return bodies
        }
        for secret in [setup.key, wrong, expiredText, "a-wrong-password"] {
            #expect(!bodies.contains { $0.contains(secret) }, "an answer holds a secret")
            #expect(!logs.all.contains { $0.contains(secret) }, "the log holds a secret")
        }
        #expect(bodies.contains { $0.contains("/t/***/conda/private/") }, "the 404 message names the redacted path")
        let events = try await setup.server.metadata.events(limit: 100, beforeID: nil, kind: nil)
        #expect(events.contains { $0.kind == "login-failed" && $0.subject == "old" })
        for event in events {
            let text = "\(event)"
            #expect(![setup.key, wrong, expiredText, "a-wrong-password"].contains { text.contains($0) })
        }
    }

    @Test func lastUsedIsWrittenAtMostOncePerMinute() async throws {
        let setup = try await Self.setUp()
        let metadata = setup.server.metadata
        let keyID = try #require(await metadata.apiKeys().first { $0.displayName == "ci" }?.id)
        try await setup.server.test { client in
            try await Self.prepareFeed(client)
            try await client.execute(
                uri: "/conda/\(Self.feed)/osx-64/repodata.json", method: .get, headers: basicAuth("api", setup.key)
            ) { #expect($0.status == .ok) }
        }
        var first: Date?
        for _ in 0..<100 {
            first = await metadata.apiKey(id: keyID)?.lastUsedAt
            if first != nil { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        let recorded = try #require(first)
        #expect(abs(recorded.timeIntervalSinceNow) < 30)
        try await setup.server.test { client in
            try await client.execute(
                uri: "/conda/\(Self.feed)/osx-64/repodata.json", method: .get, headers: basicAuth("api", setup.key)
            ) { #expect($0.status == .ok) }
        }
        try await Task.sleep(for: .milliseconds(100))
        #expect(await metadata.apiKey(id: keyID)?.lastUsedAt == recorded)
    }

    @Test func otherServersNoticeChangesThroughTheSecurityRevision() async throws {
        let metadata = MemoryMetadataStore()
        try await SecurityBootstrap.installDefaults(security: metadata, logger: Logger(label: "sluice.test"))
        let logger = Logger(label: "sluice.test")
        let here = AccessControl(security: metadata, metadata: metadata, logger: logger)
        let slow = AccessControl(
            security: metadata, metadata: metadata, configuration: .init(revisionCheckInterval: .seconds(60)),
            logger: logger)
        let quick = AccessControl(
            security: metadata, metadata: metadata, configuration: .init(revisionCheckInterval: .milliseconds(50)),
            logger: logger)
        for access in [here, slow, quick] {
            #expect(await access.allows(.viewDownload, feed: "f", identity: .anonymous))
        }
        // Anonymous access is removed on `here`.
        for privilege in await metadata.privileges() where privilege.principal == .anonymous {
            await metadata.removePrivilege(id: privilege.id)
        }
        await here.securityChanged()
        #expect(!(await here.allows(.viewDownload, feed: "f", identity: .anonymous)))
        // A server that checks the revision rarely still decides from its cache...
        #expect(await slow.allows(.viewDownload, feed: "f", identity: .anonymous))
        #expect(await slow.snapshotLoadCount == 1)
        // ...one that checks often notices within its interval.
        try await Task.sleep(for: .milliseconds(80))
        #expect(!(await quick.allows(.viewDownload, feed: "f", identity: .anonymous)))
        #expect(await quick.snapshotLoadCount == 2)
    }

    @Test func keyTexts() async throws {
        for _ in 0..<20 {
            let text = AccessControl.generateKeyText()
            #expect(text.count == AccessControl.generatedKeyLength)
            #expect(text.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0)) })
        }
        for good in ["abcdefgh", "A1-b2-C3-d4", String(repeating: "x", count: 128)] {
            #expect(throws: Never.self) { try AccessControl.validateCustomKeyText(good) }
        }
        for bad in ["short", "has space in it", "under_score_key", "ünïcödé-key", String(repeating: "x", count: 129)] {
            let error = #expect(throws: SluiceError.self) { try AccessControl.validateCustomKeyText(bad) }
            #expect(error?.code == .invalidInput)
            #expect(error?.message.contains(bad) == false)
        }
        let metadata = MemoryMetadataStore()
        let access = AccessControl(security: metadata, metadata: metadata, logger: Logger(label: "sluice.test"))
        let invalid: [APIKey] = [
            APIKey(kind: .feed, displayName: "no feeds", keyHash: "", tasks: [.viewDownload]),
            APIKey(kind: .feed, displayName: "no tasks", keyHash: "", feeds: ["f"]),
            APIKey(kind: .feed, displayName: "admin", keyHash: "", feeds: ["f"], tasks: [.administer]),
            APIKey(kind: .personal, displayName: "nobody's", keyHash: ""),
        ]
        for key in invalid {
            await #expect(throws: SluiceError.self, "\(key.displayName)") {
                try await access.createAPIKey(key, customText: nil)
            }
        }
        _ = try await access.createAPIKey(
            APIKey(kind: .system, displayName: "one", keyHash: ""), customText: "same-text-1")
        let duplicate = await #expect(throws: SluiceError.self) {
            try await access.createAPIKey(
                APIKey(kind: .system, displayName: "two", keyHash: ""), customText: "same-text-1")
        }
        #expect(duplicate?.code == .conflict)
    }

    @Test func defaultsAreInstalledOnceAndNotAfterADeliberateRemoval() async throws {
        let metadata = MemoryMetadataStore()
        let logger = Logger(label: "sluice.test")
        #expect(try await SecurityBootstrap.installDefaults(security: metadata, logger: logger))
        #expect(try await !SecurityBootstrap.installDefaults(security: metadata, logger: logger))
        let privileges = await metadata.privileges()
        #expect(privileges.count == 2)
        #expect(privileges.contains { $0.principal == .user("Admin") && $0.task == .administer && $0.feed == nil })
        #expect(privileges.contains { $0.principal == .anonymous && $0.task == .viewDownload && $0.feed == nil })
        for privilege in privileges { await metadata.removePrivilege(id: privilege.id) }
        #expect(try await !SecurityBootstrap.installDefaults(security: metadata, logger: logger))
        #expect(await metadata.privileges().isEmpty)
    }
}
