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

@Suite("Authentication")
struct AuthTests {
    static let createBody = #"{"name":"auth-feed","feedType":"conda"}"#

    @Test func missingCredentialsAre401WithAChallenge() async throws {
        let server = try await TestServer.make()
        try await server.test { client in
            try await client.execute(
                uri: "/api/management/feeds/create", method: .post, body: jsonBody(Self.createBody)
            ) { response in
                #expect(response.status == .unauthorized)
                #expect(response.headers[.wwwAuthenticate] == #"Basic realm="Sluice""#)
                #expect(response.headers[.contentType]?.hasPrefix("application/json") == true)
                let body = try json(response)
                #expect(body["error"] == .string("unauthenticated"))
                #expect(body["message"]?.stringValue?.contains("'Administer' task") == true)
            }
            #expect(await server.metadata.feeds().isEmpty)
        }
    }

    @Test(arguments: [
        ("Admin", "wrong-password"),
        ("Admin", ""),
        ("Nobody", TestServer.adminPassword),
    ])
    func wrongCredentialsAre401(user: String, password: String) async throws {
        let server = try await TestServer.make()
        try await server.test { client in
            var headers = basicAuth(user, password)
            headers[.contentType] = "application/json"
            try await client.execute(
                uri: "/api/management/feeds/create", method: .post, headers: headers, body: jsonBody(Self.createBody)
            ) { response in
                #expect(response.status == .unauthorized)
                #expect(response.headers[.wwwAuthenticate] == #"Basic realm="Sluice""#)
                let body = try json(response)
                #expect(body["message"] == .string("Invalid user name or password."))
            }
            #expect(await server.metadata.feeds().isEmpty)
        }
    }

    @Test(arguments: ["Bearer abc", "Basic !!!notbase64", "Basic " + Data("no-colon".utf8).base64EncodedString()])
    func malformedAuthorizationIs401(header: String) async throws {
        let server = try await TestServer.make()
        try await server.test { client in
            var headers = HTTPFields()
            headers[.authorization] = header
            try await client.execute(uri: "/api/management/feeds/list", method: .get, headers: headers) { response in
                #expect(response.status == .unauthorized)
                #expect(response.headers[.wwwAuthenticate] == #"Basic realm="Sluice""#)
            }
        }
    }

    @Test func adminIsAcceptedCaseInsensitivelyByName() async throws {
        let server = try await TestServer.make()
        try await server.test { client in
            try await client.execute(
                uri: "/api/management/feeds/list", method: .get, headers: basicAuth("admin", TestServer.adminPassword)
            ) { response in
                #expect(response.status == .ok)
            }
        }
    }

    @Test func usersWithoutTheTaskAreForbiddenWithAMessageNamingTaskAndFeed() async throws {
        let server = try await TestServer.make()
        try await server.metadata.createUser(User(name: "alice", passwordHash: Bcrypt.hash("alice-pw", cost: 4)))
        try await server.metadata.addPrivilege(Privilege(principal: .user("alice"), task: .viewDownload))
        await server.services.access.securityChanged()
        try await server.test { client in
            try await client.createFeed("guarded")
            var headers = basicAuth("alice", "alice-pw")
            headers[.contentType] = "application/json"
            try await client.execute(
                uri: "/api/management/feeds/create", method: .post, headers: headers, body: jsonBody(Self.createBody)
            ) { response in
                #expect(response.status == .forbidden)
                #expect(response.headers[.wwwAuthenticate] == nil)
                let body = try json(response)
                #expect(body["error"] == .string("forbidden"))
                #expect(body["message"] == .string("'alice' lacks the 'Administer' task on this server (all feeds)."))
            }
            try await client.execute(
                uri: "/api/packages/guarded/delete", method: .post, headers: headers,
                body: jsonBody(#"{"filename":"x-1-0.conda"}"#)
            ) { response in
                #expect(response.status == .forbidden)
                let body = try json(response)
                #expect(body["message"] == .string("'alice' lacks the 'Delete Packages' task on feed 'guarded'."))
            }
            // What alice may do still works: the feed list (she views every feed).
            try await client.execute(
                uri: "/api/management/feeds/list", method: .get, headers: basicAuth("alice", "alice-pw")
            ) { response in
                #expect(response.status == .ok)
                let body = try json(response)
                #expect(body.arrayValue?.count == 1)
            }
        }
    }

    @Test func readsAreAnonymous() async throws {
        let server = try await TestServer.make()
        try await server.test { client in
            try await client.createFeed("anonymous")
            try await client.execute(uri: "/api/packages/anonymous/versions", method: .get) { response in
                #expect(response.status == .ok)
            }
            try await client.execute(uri: "/conda/anonymous/noarch/repodata.json", method: .get) { response in
                #expect(response.status == .ok)
            }
            try await client.execute(uri: "/health", method: .get) { response in
                #expect(response.status == .ok)
            }
            // Writes are not.
            try await client.execute(
                uri: "/api/packages/anonymous/delete", method: .post, body: jsonBody(#"{"filename":"x-1-0.conda"}"#)
            ) { response in
                #expect(response.status == .unauthorized)
            }
            try await client.execute(
                uri: "/api/management/feeds/delete/anonymous", method: .delete
            ) { response in
                #expect(response.status == .unauthorized)
            }
            #expect(await server.metadata.feed(named: "anonymous") != nil)
        }
    }

    static func accessControl(
        _ metadata: MemoryMetadataStore, configuration: AccessControl.Configuration = .init()
    )
        -> AccessControl
    {
        AccessControl(
            security: metadata, metadata: metadata, configuration: configuration, logger: Logger(label: "sluice.test"))
    }

    @Test func successfulVerificationIsCachedUntilThePasswordChanges() async throws {
        let metadata = MemoryMetadataStore()
        try await metadata.createUser(User(name: "Admin", passwordHash: Bcrypt.hash("first", cost: 4)))
        let access = Self.accessControl(metadata)
        #expect(try await access.signIn(user: "Admin", password: "first", remoteAddress: nil).userName == "Admin")
        #expect(try await access.signIn(user: "Admin", password: "first", remoteAddress: nil).userName == "Admin")

        // A cache hit must not outlive a password change.
        try await metadata.updateUser(User(name: "Admin", passwordHash: Bcrypt.hash("second", cost: 4)))
        await #expect(throws: SluiceError.self) {
            try await access.signIn(user: "Admin", password: "first", remoteAddress: nil)
        }
        #expect(try await access.signIn(user: "Admin", password: "second", remoteAddress: nil).userName == "Admin")
        // A wrong password is refused even right after a cached success.
        let error = await #expect(throws: SluiceError.self) {
            try await access.signIn(user: "Admin", password: "secon", remoteAddress: nil)
        }
        #expect(error?.code == .unauthenticated)
    }

    @Test func successfulVerificationsAreCached() async throws {
        let metadata = MemoryMetadataStore()
        try await metadata.createUser(User(name: "Admin", passwordHash: Bcrypt.hash("pw", cost: 4)))
        let access = Self.accessControl(metadata)
        for _ in 0..<21 { _ = try await access.signIn(user: "Admin", password: "pw", remoteAddress: nil) }
        #expect(await access.bcryptVerificationCount == 1)
        // A wrong password is never answered from the cache.
        await #expect(throws: SluiceError.self) {
            try await access.signIn(user: "Admin", password: "nope", remoteAddress: nil)
        }
        #expect(await access.bcryptVerificationCount == 2)
    }

    @Test func constantTimeComparison() {
        #expect(AccessControl.constantTimeEqual([1, 2, 3], [1, 2, 3]))
        #expect(!AccessControl.constantTimeEqual([1, 2, 3], [1, 2, 4]))
        #expect(!AccessControl.constantTimeEqual([1, 2, 3], [1, 2]))
        #expect(AccessControl.constantTimeEqual([], []))
    }

    @Test func bootstrapCreatesAdminOnceWithAGeneratedPasswordLoggedOnce() async throws {
        let metadata = MemoryMetadataStore()
        let (logger, logs) = CapturingLogHandler.logger()
        #expect(
            try await AdminBootstrap.ensureAdminUser(
                metadata: metadata, initialPassword: nil, logger: logger, bcryptCost: 4))
        #expect(
            try await !AdminBootstrap.ensureAdminUser(
                metadata: metadata, initialPassword: nil, logger: logger, bcryptCost: 4))
        let lines = logs.all.filter { $0.contains("generated password") }
        #expect(lines.count == 1)
        let password = try #require(lines.first?.split(separator: " ").first { $0.count >= 24 }.map(String.init))
        #expect(password.allSatisfy { $0.isLetter || $0.isNumber })
        let user = try #require(await metadata.user(named: "Admin"))
        #expect(user.name.lowercased() == "admin")
        #expect(!user.passwordHash.contains(password))
        #expect(Bcrypt.verify(password, hash: user.passwordHash))
    }

    @Test func bootstrapUsesTheGivenPasswordAndNeverLogsIt() async throws {
        let metadata = MemoryMetadataStore()
        let (logger, logs) = CapturingLogHandler.logger()
        try await AdminBootstrap.ensureAdminUser(
            metadata: metadata, initialPassword: "given-password-42", logger: logger, bcryptCost: 4)
        let user = try #require(await metadata.user(named: "admin"))
        #expect(Bcrypt.verify("given-password-42", hash: user.passwordHash))
        #expect(!logs.all.isEmpty)
        #expect(logs.all.allSatisfy { !$0.contains("given-password-42") })
    }

    @Test func generatedPasswordsAreLongAndDistinct() {
        let passwords = (0..<50).map { _ in AdminBootstrap.generatePassword() }
        #expect(passwords.allSatisfy { $0.count >= 24 })
        #expect(Set(passwords).count == 50)
    }
}
