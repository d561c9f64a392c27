import Crypto
import Foundation
import HummingbirdBcrypt
import NIOPosix
import SluiceCore

/// Checks HTTP Basic credentials against the users in the ``MetadataStore`` and admits only `Admin` (until the
/// security issue brings API keys and roles).
///
/// A bcrypt verification costs about a quarter of a second, so a successful one is remembered for
/// ``Configuration/cacheLifetime``: keyed by user, holding the sha256 of `user:password` (never the password) and the
/// password hash it was checked against, so a changed password invalidates it. Cached digests are compared in
/// constant time. Failed attempts are never cached.
public actor AdminAuthenticator {
    /// Options of the authenticator.
    public struct Configuration: Sendable {
        /// How long a successful verification is remembered. Default five minutes.
        public var cacheLifetime: Duration
        public init(cacheLifetime: Duration = .seconds(300)) {
            self.cacheLifetime = cacheLifetime
        }
    }

    /// The name of the built-in administrator.
    public static let adminUserName = "Admin"

    private struct CacheEntry {
        var credentialDigest: [UInt8]
        var passwordHash: String
        var expires: ContinuousClock.Instant
    }

    private let metadata: any MetadataStore
    private let configuration: Configuration
    private var cache: [String: CacheEntry] = [:]
    /// How many bcrypt verifications ran (cache misses); lets tests observe the cache without timing it.
    private(set) var bcryptVerificationCount = 0

    public init(metadata: any MetadataStore, configuration: Configuration = .init()) {
        self.metadata = metadata
        self.configuration = configuration
    }

    /// Authenticates the value of an `Authorization` header as `Admin` and returns the user's name.
    /// - Throws: `SluiceError.unauthenticated` when the header is missing, not HTTP Basic, or the user name or
    ///   password is wrong; `.forbidden` for a valid user other than `Admin`; `.storageFailure` if the database fails.
    public func authenticateAdmin(authorization: String?) async throws(SluiceError) -> String {
        guard let authorization, let credentials = try BasicCredentials(authorization: authorization) else {
            throw SluiceError(
                .unauthenticated, "This request needs credentials: HTTP Basic authentication as Admin:<password>.")
        }
        let user: User?
        do {
            user = try await metadata.user(named: credentials.user)
        } catch {
            throw SluiceError(.storageFailure, "Could not read the user database.", cause: error)
        }
        guard let user else {
            throw SluiceError(.unauthenticated, "Invalid user name or password.")
        }
        guard try await verify(credentials, against: user) else {
            throw SluiceError(.unauthenticated, "Invalid user name or password.")
        }
        guard user.name.caseInsensitiveCompare(Self.adminUserName) == .orderedSame else {
            throw SluiceError(.forbidden, "Only the Admin user may manage feeds and packages for now.")
        }
        // Stores may normalise the case of names; report the canonical one.
        return Self.adminUserName
    }

    /// Forgets every cached verification (e.g. after a password change).
    public func clearCache() {
        cache.removeAll()
    }

    private func verify(_ credentials: BasicCredentials, against user: User) async throws(SluiceError) -> Bool {
        let key = user.name.lowercased()
        let digest = Array(SHA256.hash(data: Data("\(key):\(credentials.password)".utf8)))
        let now = ContinuousClock.now
        if let entry = cache[key], entry.expires > now, entry.passwordHash == user.passwordHash,
            Self.constantTimeEqual(entry.credentialDigest, digest)
        {
            return true
        }
        let password = credentials.password
        let hash = user.passwordHash
        bcryptVerificationCount += 1
        let valid: Bool
        do {
            valid = try await NIOThreadPool.singleton.runIfActive { Bcrypt.verify(password, hash: hash) }
        } catch {
            throw SluiceError(.internalError, "Could not verify the password.", cause: error)
        }
        if valid {
            cache[key] = CacheEntry(
                credentialDigest: digest, passwordHash: hash, expires: now.advanced(by: configuration.cacheLifetime))
        }
        return valid
    }

    /// Compares two byte arrays in time that depends only on their length.
    static func constantTimeEqual(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        guard lhs.count == rhs.count else { return false }
        var difference: UInt8 = 0
        for index in lhs.indices {
            difference |= lhs[index] ^ rhs[index]
        }
        return difference == 0
    }
}
