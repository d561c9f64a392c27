import Crypto
import Foundation

/// A signed-in browser session of the web UI.
struct WebSession: Sendable {
    /// The random session id (the `sluice_session` cookie's value); 256 bits, base64url.
    let id: String
    /// The per-session token every form of the UI carries in its hidden `csrf` field.
    let csrfToken: String
    /// The user who signed in.
    let userName: String
    /// Who the session acts as (``AccessControl`` reads the user's current groups at each check).
    let identity: Identity
    let createdAt: Date
    /// The session ends at this instant unless used before (each use moves it ``WebSessionStore/idleLifetime`` on,
    /// never past ``WebSessionStore/absoluteLifetime`` after ``createdAt``).
    var expiresAt: Date
}

/// The web UI's sessions, in memory: a session lives on one server instance and ends when it restarts (users then
/// sign in again). Sessions expire after ``idleLifetime`` without use and ``absoluteLifetime`` after sign-in.
///
/// Only the sha256 of a session id is kept as the key, so the table holds nothing a cookie could be made from.
actor WebSessionStore {
    /// How long an unused session stays valid.
    let idleLifetime: TimeInterval
    /// How long a session stays valid at most, however much it is used.
    let absoluteLifetime: TimeInterval
    private let now: @Sendable () -> Date
    private var sessions: [String: WebSession] = [:]
    private var flashes: [String: Flash] = [:]
    private var lastPurge = Date.distantPast

    /// Creates an empty store; `now` is the clock (tests move it).
    init(
        idleLifetime: TimeInterval = 8 * 3600, absoluteLifetime: TimeInterval = 24 * 3600,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.idleLifetime = idleLifetime
        self.absoluteLifetime = absoluteLifetime
        self.now = now
    }

    /// Starts a session for a signed-in user and returns it (with the id to put in the cookie).
    func create(identity: Identity) -> WebSession {
        purgeExpiredIfDue()
        let date = now()
        let session = WebSession(
            id: Self.randomToken(), csrfToken: Self.randomToken(), userName: identity.actorName ?? "",
            identity: identity,
            createdAt: date,
            expiresAt: min(date.addingTimeInterval(idleLifetime), date.addingTimeInterval(absoluteLifetime)))
        sessions[Self.key(session.id)] = session
        return session
    }

    /// The live session with this id, its expiry moved on; nil when unknown or expired (an expired one is removed).
    func session(id: String) -> WebSession? {
        let key = Self.key(id)
        guard var session = sessions[key] else { return nil }
        let date = now()
        guard session.expiresAt > date else {
            sessions[key] = nil
            return nil
        }
        session.expiresAt = min(
            date.addingTimeInterval(idleLifetime), session.createdAt.addingTimeInterval(absoluteLifetime))
        sessions[key] = session
        return session
    }

    /// Ends a session (sign out). Unknown ids are ignored.
    func delete(id: String) {
        sessions[Self.key(id)] = nil
        flashes[Self.key(id)] = nil
    }

    /// Keeps a message for the session's next page (after a form post redirects).
    func setFlash(_ flash: Flash, sessionID: String) {
        let key = Self.key(sessionID)
        guard sessions[key] != nil else { return }
        flashes[key] = flash
    }

    /// The message kept for the session's next page, once.
    func takeFlash(sessionID: String) -> Flash? {
        flashes.removeValue(forKey: Self.key(sessionID))
    }

    /// Ends every session of `userName` (after the user was deleted); names compare case-insensitively.
    func deleteSessions(ofUser userName: String) {
        sessions = sessions.filter { $0.value.userName.caseInsensitiveCompare(userName) != .orderedSame }
        flashes = flashes.filter { sessions[$0.key] != nil }
    }

    /// The number of live sessions (tests).
    var count: Int { sessions.values.filter { $0.expiresAt > now() }.count }

    private func purgeExpiredIfDue() {
        let date = now()
        guard date.timeIntervalSince(lastPurge) > 300 else { return }
        lastPurge = date
        sessions = sessions.filter { $0.value.expiresAt > date }
        flashes = flashes.filter { sessions[$0.key] != nil }
    }

    private static func key(_ id: String) -> String {
        SHA256.hash(data: Data(id.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// 32 random bytes from the system's secure generator, base64url without padding.
    static func randomToken() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
