import Crypto
import Foundation
import Hummingbird
import HummingbirdBcrypt
import Logging
import NIOPosix
import SluiceCore

/// Authentication and authorization of every request (`services.access`).
///
/// - ``authenticate(_:pathToken:remoteAddress:)`` turns a request's credentials into an ``Identity``
///   (``AuthenticationMiddleware`` calls it on every route);
/// - ``require(_:feed:identity:)`` and ``allows(_:feed:identity:)`` apply the precedence rule of
///   ``AccessEvaluator`` (docs/security.md) to the privileges in the ``SecurityStore``.
///
/// Privileges, group memberships, user names and API keys are cached. The cache is dropped by
/// ``securityChanged()`` and, so that several servers on one database agree, reloaded when
/// ``SecurityStore/securityRevision()`` changed, which is checked at most every
/// ``Configuration/revisionCheckInterval``. Users' password hashes are read on each password sign-in; a successful
/// bcrypt verification is remembered (the sha256 of `user:password`, never the password) until the password hash
/// changes or ``Configuration/passwordCacheLifetime`` passes. API keys are looked up by the sha256 of their text and
/// the stored hash is compared in constant time. Failed sign-ins are rate-limited per client address and per user
/// name (``LoginRateLimiter``) and recorded in the event log. No key or password is ever logged.
public actor AccessControl {
    /// Options of the access control.
    public struct Configuration: Sendable {
        /// How long a successful bcrypt verification is remembered. Default five minutes.
        public var passwordCacheLifetime: Duration
        /// How often, at most, the store's security revision is compared with the cached one. Default 2 seconds.
        public var revisionCheckInterval: Duration
        /// How often, at most, a key's `lastUsedAt` is written. Default one minute.
        public var lastUsedInterval: Duration
        /// Limits on failed sign-ins.
        public var rateLimit: LoginRateLimiter.Configuration
        /// Whether a store that never had privileges gets ``SecurityBootstrap``'s defaults when the security data is
        /// first read (so a server assembled without `buildApplication`, as in tests, behaves like a new install).
        /// Default true.
        public var installsDefaultPrivileges: Bool

        /// Creates a configuration; every parameter defaults to the documented default.
        public init(
            passwordCacheLifetime: Duration = .seconds(300), revisionCheckInterval: Duration = .seconds(2),
            lastUsedInterval: Duration = .seconds(60), rateLimit: LoginRateLimiter.Configuration = .init(),
            installsDefaultPrivileges: Bool = true
        ) {
            self.installsDefaultPrivileges = installsDefaultPrivileges
            self.passwordCacheLifetime = passwordCacheLifetime
            self.revisionCheckInterval = revisionCheckInterval
            self.lastUsedInterval = lastUsedInterval
            self.rateLimit = rateLimit
        }
    }

    /// The cached security data.
    struct Snapshot: Sendable {
        var revision: Int64
        var privileges: [Privilege]
        /// Lowercased user name → the names of its groups.
        var groupsByUser: [String: [String]]
        /// Lowercased user name → the user's name as stored.
        var userNames: [String: String]
        /// Key hash (lowercase hex sha256) → key.
        var keysByHash: [String: APIKey]
    }

    private struct PasswordCacheEntry {
        var credentialDigest: [UInt8]
        var passwordHash: String
        var expires: ContinuousClock.Instant
    }

    /// The store of users, groups, privileges, keys and events.
    public nonisolated let security: any SecurityStore
    private let metadata: any MetadataStore
    private let configuration: Configuration
    private let logger: Logger

    private var snapshot: Snapshot?
    private var snapshotIsStale = true
    private var lastRevisionCheck: ContinuousClock.Instant?
    private var loading: Task<Snapshot, any Error>?
    /// Bumped by ``securityChanged()``; a load that started before a change does not clear ``snapshotIsStale``.
    private var changeGeneration = 0
    private var passwordCache: [String: PasswordCacheEntry] = [:]
    private var limiter: LoginRateLimiter
    private var lastUsedWritten: [Int64: ContinuousClock.Instant] = [:]

    /// How many bcrypt verifications ran (cache misses); lets tests observe the cache without timing it.
    private(set) var bcryptVerificationCount = 0
    /// How many times the security data was loaded from the store (tests observe the cache with it).
    private(set) var snapshotLoadCount = 0

    /// Creates the access control over `security` (privileges, groups, keys, events) and `metadata` (users).
    public init(
        security: any SecurityStore, metadata: any MetadataStore, configuration: Configuration = .init(),
        logger: Logger
    ) {
        self.security = security
        self.metadata = metadata
        self.configuration = configuration
        self.logger = logger
        self.limiter = LoginRateLimiter(configuration: configuration.rateLimit)
    }

    // MARK: Authentication

    /// Reads credentials from the request: Basic `api:<key>` / `<user>:<password>`, `X-ApiKey`,
    /// `Authorization: Bearer <key>`, `Authorization: token <key>`, and the `/t/<key>/` path prefix (`pathToken`,
    /// from either position). No credentials → ``Identity/anonymous``.
    /// - Throws: `SluiceError.unauthenticated` (401) for wrong, malformed, expired or deleted credentials (and a
    ///   personal key whose user is gone); `.tooManyRequests` (429, with `retryAfter`) after too many failures from
    ///   `remoteAddress` or for the user name; `.storageFailure` when the database fails.
    public func authenticate(
        _ request: Request, pathToken: String?, remoteAddress: String?
    ) async throws(SluiceError) -> Identity {
        let credential: PresentedCredential?
        do {
            credential = try PresentedCredential.from(headers: request.headers, pathToken: pathToken)
        } catch {
            try checkRateLimit(address: remoteAddress, user: nil)
            await fail(address: remoteAddress, user: nil, subject: nil, detail: "malformed credentials")
            throw error
        }
        guard let credential else { return .anonymous }
        switch credential {
        case .password(let user, let password):
            return try await signIn(user: user, password: password, remoteAddress: remoteAddress)
        case .apiKey(let text):
            return try await authenticate(key: text, remoteAddress: remoteAddress)
        }
    }

    /// Password sign-in (also used by the web UI's form); the same rate limiting and event logging as
    /// ``authenticate(_:pathToken:remoteAddress:)``.
    /// - Throws: `.unauthenticated` (401) for a wrong user name or password, `.tooManyRequests` (429),
    ///   `.storageFailure`.
    public func signIn(
        user name: String, password: String, remoteAddress: String?
    ) async throws(SluiceError)
        -> Identity
    {
        try checkRateLimit(address: remoteAddress, user: name)
        let user: User?
        do {
            user = try await metadata.user(named: name)
        } catch {
            throw SluiceError(.storageFailure, "Could not read the user database.", cause: error)
        }
        guard let user, try await verify(password: password, userName: user.name, passwordHash: user.passwordHash)
        else {
            await fail(address: remoteAddress, user: name, subject: name, detail: "wrong user name or password")
            throw SluiceError(.unauthenticated, "Invalid user name or password.")
        }
        limiter.recordSuccess(address: remoteAddress)
        var snapshot = try await currentSnapshot()
        if snapshot.userNames[user.name.lowercased()] == nil {
            // Created moments ago (on another server, or without `securityChanged()`): read the data again.
            snapshotIsStale = true
            snapshot = try await currentSnapshot()
        }
        return .user(
            name: Self.canonicalName(user.name), groups: snapshot.groupsByUser[user.name.lowercased()] ?? [],
            apiKeyID: nil)
    }

    private func authenticate(key text: String, remoteAddress: String?) async throws(SluiceError) -> Identity {
        try checkRateLimit(address: remoteAddress, user: nil)
        let digest = Array(SHA256.hash(data: Data(text.utf8)))
        let hash = Self.hex(digest)
        var snapshot = try await currentSnapshot()
        var key = snapshot.keysByHash[hash]
        if key == nil {
            // Created moments ago on another server (not yet in the cached data)?
            do {
                key = try await security.apiKey(hash: hash)
            } catch {
                throw SluiceError(.storageFailure, "Could not read the API keys.", cause: error)
            }
            if key != nil {
                snapshotIsStale = true
                snapshot = try await currentSnapshot()
            }
        }
        guard let key, Self.constantTimeEqual(Self.bytes(ofHex: key.keyHash), digest) else {
            await fail(address: remoteAddress, user: nil, subject: nil, detail: "unknown API key")
            throw SluiceError(.unauthenticated, "Invalid API key.")
        }
        if let expiresAt = key.expiresAt, expiresAt <= Date() {
            await fail(
                address: remoteAddress, user: nil, subject: key.displayName, detail: "expired API key")
            throw SluiceError(.unauthenticated, "The API key '\(key.displayName)' has expired.")
        }
        let identity: Identity
        switch key.kind {
        case .feed:
            identity = .feedKey(id: key.id, displayName: key.displayName, feeds: key.feeds, tasks: key.tasks)
        case .system:
            identity = .systemKey(id: key.id, displayName: key.displayName)
        case .personal:
            guard let owner = key.userName, let name = snapshot.userNames[owner.lowercased()] else {
                await fail(
                    address: remoteAddress, user: nil, subject: key.displayName,
                    detail: "personal API key of a deleted user")
                throw SluiceError(.unauthenticated, "The API key '\(key.displayName)' belongs to no user any more.")
            }
            identity = .user(name: name, groups: snapshot.groupsByUser[name.lowercased()] ?? [], apiKeyID: key.id)
        }
        limiter.recordSuccess(address: remoteAddress)
        noteUsed(key.id)
        return identity
    }

    private func checkRateLimit(address: String?, user: String?) throws(SluiceError) {
        if let seconds = limiter.retryAfter(address: address, user: user) {
            throw .tooManyRequests(
                "Too many failed sign-ins; try again in \(seconds) second(s).", retryAfter: seconds)
        }
    }

    /// Counts a failure and records it in the event log (never with the secret).
    private func fail(address: String?, user: String?, subject: String?, detail: String) async {
        let blocked = limiter.recordFailure(address: address, user: user)
        await record(
            SecurityEvent(kind: "login-failed", actor: user, subject: subject, detail: detail, remoteAddress: address))
        if blocked {
            logger.warning(
                "Sign-ins are being refused after repeated failures",
                metadata: ["remoteAddress": "\(address ?? "-")", "user": "\(user ?? "-")"])
            await record(
                SecurityEvent(
                    kind: "login-rate-limited", actor: user, subject: subject,
                    detail: "further sign-ins refused for a while after repeated failures", remoteAddress: address))
        }
    }

    /// Writes `lastUsedAt` of a key at most once per ``Configuration/lastUsedInterval``, off the request path.
    private func noteUsed(_ id: Int64) {
        let now = ContinuousClock.now
        if let last = lastUsedWritten[id], now - last < configuration.lastUsedInterval { return }
        lastUsedWritten[id] = now
        let security = self.security
        let logger = self.logger
        Task.detached {
            do {
                try await security.markAPIKeyUsed(id: id, at: Date())
            } catch {
                logger.warning(
                    "Could not record the use of an API key", metadata: ["id": "\(id)", "error": "\(error)"])
            }
        }
    }

    /// Verifies a password against a bcrypt hash, remembering successes.
    private func verify(password: String, userName: String, passwordHash: String) async throws(SluiceError) -> Bool {
        let cacheKey = userName.lowercased()
        let digest = Array(SHA256.hash(data: Data("\(cacheKey):\(password)".utf8)))
        let now = ContinuousClock.now
        if let entry = passwordCache[cacheKey], entry.expires > now, entry.passwordHash == passwordHash,
            Self.constantTimeEqual(entry.credentialDigest, digest)
        {
            return true
        }
        bcryptVerificationCount += 1
        let valid: Bool
        do {
            valid = try await NIOThreadPool.singleton.runIfActive { Bcrypt.verify(password, hash: passwordHash) }
        } catch {
            throw SluiceError(.internalError, "Could not verify the password.", cause: error)
        }
        if valid {
            passwordCache[cacheKey] = PasswordCacheEntry(
                credentialDigest: digest, passwordHash: passwordHash,
                expires: now.advanced(by: configuration.passwordCacheLifetime))
        }
        return valid
    }

    // MARK: Authorization

    /// Returns when `identity` may perform `task` on `feed` (nil = a global or management action).
    /// - Throws: `SluiceError.unauthenticated` (401 with `WWW-Authenticate`) when an anonymous identity is denied,
    ///   `.forbidden` (403) naming the task's display name and the feed otherwise, `.storageFailure` when the
    ///   security data cannot be read.
    public func require(_ task: SecurityTask, feed: String?, identity: Identity) async throws(SluiceError) {
        let snapshot = try await currentSnapshot()
        guard !decide(task, feed: feed, identity: identity, snapshot: snapshot) else { return }
        let scope = feed.map { "on feed '\($0)'" } ?? "on this server (all feeds)"
        if identity.isAnonymous {
            throw SluiceError(
                .unauthenticated,
                "Sign in for this request: it needs the '\(task.displayName)' task \(scope). Send HTTP Basic "
                    + "credentials (user:password or api:<key>), an X-ApiKey header, or Authorization: Bearer <key>.")
        }
        throw SluiceError(
            .forbidden, "'\(identity.actorName ?? "-")' lacks the '\(task.displayName)' task \(scope).")
    }

    /// Whether `identity` may perform `task` on `feed` (nil = global). False when the security data cannot be read.
    public func allows(_ task: SecurityTask, feed: String?, identity: Identity) async -> Bool {
        do {
            return decide(task, feed: feed, identity: identity, snapshot: try await currentSnapshot())
        } catch {
            logger.error("Could not read the security data", metadata: ["error": "\(error)"])
            return false
        }
    }

    /// For listings (feeds, promotion history): an anonymous caller who may view none of `feeds` (when there are any)
    /// is asked to sign in instead of getting an empty list; signed-in callers get the (filtered, maybe empty) list.
    /// - Throws: `SluiceError.unauthenticated` (401) in that case.
    public nonisolated func requireSomeViewableFeed(
        _ viewable: Set<String>, among feeds: some Collection<String>, identity: Identity
    ) throws(SluiceError) {
        guard identity.isAnonymous, viewable.isEmpty, !feeds.isEmpty else { return }
        throw SluiceError(
            .unauthenticated,
            "Sign in to see feeds: anonymous access is not allowed on this server. Send HTTP Basic credentials "
                + "(user:password or api:<key>), an X-ApiKey header, or Authorization: Bearer <key>.")
    }

    /// The subset of `feeds` that `identity` may view (for listings).
    public func viewableFeeds(
        _ feeds: some Collection<String> & Sendable, identity: Identity
    ) async throws(SluiceError)
        -> Set<String>
    {
        let snapshot = try await currentSnapshot()
        return Set(feeds.filter { decide(.viewDownload, feed: $0, identity: identity, snapshot: snapshot) })
    }

    private func decide(_ task: SecurityTask, feed: String?, identity: Identity, snapshot: Snapshot) -> Bool {
        var subject = identity.subject
        if case .user(let name, let groups) = subject {
            // Memberships as they are now, also for identities made before a change (web sessions).
            let current = snapshot.groupsByUser[name.lowercased()] ?? []
            subject = .user(name: name, groups: Array(Set(groups + current)).sorted())
            // A user deleted since: only what everyone/authenticated may do would apply; refuse instead.
            guard snapshot.userNames[name.lowercased()] != nil else { return false }
        }
        return AccessEvaluator.allows(task, feed: feed, subject: subject, privileges: snapshot.privileges)
    }

    // MARK: Changes, events, keys

    /// Call after any change of users, groups, privileges or keys: drops the cached data (other servers notice
    /// through ``SecurityStore/securityRevision()`` within ``Configuration/revisionCheckInterval``).
    public func securityChanged() {
        snapshotIsStale = true
        changeGeneration += 1
        loading = nil
        passwordCache.removeAll()
    }

    /// Appends `event` to the event log; a failure is logged, never thrown.
    public func record(_ event: SecurityEvent) async {
        do {
            try await security.recordEvent(event)
        } catch {
            logger.error(
                "Could not write the security event log", metadata: ["kind": "\(event.kind)", "error": "\(error)"])
        }
    }

    /// Creates an API key and returns the stored key and its text (shown to the user once; never stored or logged).
    ///
    /// `key.keyHash` is ignored and replaced by the sha256 of the text. `customText` nil → a generated text of
    /// ``generatedKeyLength`` characters from `[A-Za-z0-9]`.
    /// - Throws: `.invalidInput` (400) for a custom text that is not 8...128 characters of `[A-Za-z0-9-]`, a feed key
    ///   without feeds or tasks or with tasks other than view, publish, promote and delete, a personal key without a
    ///   user; `.notFound` (404) for a personal key's user that does not exist; `.conflict` (409) when the text is
    ///   already a key's; `.storageFailure`.
    public func createAPIKey(_ key: APIKey, customText: String?) async throws(SluiceError) -> (APIKey, String) {
        let text: String
        if let customText {
            try Self.validateCustomKeyText(customText)
            text = customText
        } else {
            text = Self.generateKeyText()
        }
        var key = key
        switch key.kind {
        case .feed:
            guard !key.feeds.isEmpty else { throw .invalidInput("A feed API key needs at least one feed.") }
            guard !key.tasks.isEmpty else {
                throw .invalidInput("A feed API key needs at least one of view, add (publish), promote, delete.")
            }
            let allowed: Set<SecurityTask> = [.viewDownload, .publishPackages, .promotePackages, .deletePackages]
            guard key.tasks.allSatisfy(allowed.contains) else {
                throw .invalidInput("A feed API key can grant only view, add (publish), promote and delete.")
            }
            key.userName = nil
        case .personal:
            guard let owner = key.userName, !owner.isEmpty else {
                throw .invalidInput("A personal API key needs the user it acts as.")
            }
            let user: User?
            do {
                user = try await metadata.user(named: owner)
            } catch {
                throw SluiceError(.storageFailure, "Could not read the user database.", cause: error)
            }
            guard let user else { throw .notFound("There is no user named '\(owner)'.") }
            key.userName = user.name
            key.feeds = []
            key.tasks = []
        case .system:
            key.userName = nil
            key.feeds = []
            key.tasks = []
        }
        key.keyHash = Self.hex(Array(SHA256.hash(data: Data(text.utf8))))
        let stored: APIKey
        do {
            stored = try await security.createAPIKey(key)
        } catch let error as SluiceError where error.code == .conflict {
            throw .conflict("This key text is already in use; choose another one or let Sluice generate it.")
        } catch {
            throw SluiceError(.storageFailure, "Could not store the API key.", cause: error)
        }
        securityChanged()
        return (stored, text)
    }

    /// The length of generated key texts.
    public static let generatedKeyLength = 40

    /// A key text of ``generatedKeyLength`` letters and digits from the system's secure generator.
    public static func generateKeyText() -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
        var generator = SystemRandomNumberGenerator()
        return String(
            (0..<generatedKeyLength).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] })
    }

    /// Checks a custom key text: 8...128 characters of `[A-Za-z0-9-]` (what conda's `/t/<token>/` handling accepts).
    /// - Throws: `SluiceError.invalidInput` otherwise (the message does not repeat the text).
    public static func validateCustomKeyText(_ text: String) throws(SluiceError) {
        guard (8...128).contains(text.count),
            text.unicodeScalars.allSatisfy({ $0.isASCII && ($0 == "-" || CharacterSet.alphanumerics.contains($0)) })
        else {
            throw .invalidInput(
                "A custom key must be 8 to 128 characters of letters, digits and '-' (leave it out to generate one).")
        }
    }

    // MARK: Cache

    /// The security data, reloaded when stale or when the store's revision changed (checked at most every
    /// ``Configuration/revisionCheckInterval``).
    func currentSnapshot() async throws(SluiceError) -> Snapshot {
        if let snapshot, !snapshotIsStale {
            let now = ContinuousClock.now
            if let last = lastRevisionCheck, now - last < configuration.revisionCheckInterval {
                return snapshot
            }
            lastRevisionCheck = now
            do {
                if try await security.securityRevision() == snapshot.revision, !snapshotIsStale {
                    return snapshot
                }
            } catch {
                // Keep deciding with what was last read; the next check tries again.
                logger.warning("Could not read the security revision", metadata: ["error": "\(error)"])
                return snapshot
            }
        }
        return try await reload()
    }

    private func reload() async throws(SluiceError) -> Snapshot {
        let task: Task<Snapshot, any Error>
        if let loading {
            task = loading
        } else {
            let security = self.security
            let logger = self.logger
            let installDefaults = configuration.installsDefaultPrivileges
            task = Task {
                if installDefaults, try await security.privileges().isEmpty {
                    try await SecurityBootstrap.installDefaults(security: security, logger: logger)
                }
                return try await Self.load(from: security)
            }
            loading = task
            snapshotLoadCount += 1
        }
        let generation = changeGeneration
        do {
            let loaded = try await task.value
            if loading == task { loading = nil }
            if generation == changeGeneration {
                snapshot = loaded
                snapshotIsStale = false
                lastRevisionCheck = ContinuousClock.now
            }
            return loaded
        } catch {
            if loading == task { loading = nil }
            throw SluiceError(.storageFailure, "Could not read the security settings from the database.", cause: error)
        }
    }

    private static func load(from security: any SecurityStore) async throws -> Snapshot {
        // The revision first: a change while loading leaves an older revision, so the next check reloads.
        let revision = try await security.securityRevision()
        let privileges = try await security.privileges()
        let users = try await security.users()
        let groups = try await security.groups()
        let keys = try await security.apiKeys()
        var groupsByUser: [String: [String]] = [:]
        for group in groups {
            for member in group.members {
                groupsByUser[member.lowercased(), default: []].append(group.name)
            }
        }
        var userNames: [String: String] = [:]
        for user in users { userNames[user.name.lowercased()] = canonicalName(user.name) }
        var keysByHash: [String: APIKey] = [:]
        for key in keys { keysByHash[key.keyHash.lowercased()] = key }
        return Snapshot(
            revision: revision, privileges: privileges, groupsByUser: groupsByUser, userNames: userNames,
            keysByHash: keysByHash)
    }

    // MARK: Helpers

    /// The name an identity carries: the stored name (stores may normalise its case), except that the built-in
    /// administrator is always `Admin`.
    static func canonicalName(_ storedName: String) -> String {
        storedName.caseInsensitiveCompare(SecurityBootstrap.adminUserName) == .orderedSame
            ? SecurityBootstrap.adminUserName : storedName
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

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var result: [UInt8] = []
        result.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            result.append(digits[Int(byte >> 4)])
            result.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: result, as: UTF8.self)
    }

    /// The bytes of a hex string; invalid digits make an array that matches no digest.
    static func bytes(ofHex hex: String) -> [UInt8] {
        var result: [UInt8] = []
        var high: UInt8?
        for scalar in hex.lowercased().utf8 {
            let value: UInt8
            switch scalar {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = scalar - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): value = scalar - UInt8(ascii: "a") + 10
            default: return []
            }
            if let pending = high {
                result.append(pending << 4 | value)
                high = nil
            } else {
                high = value
            }
        }
        return result
    }
}
