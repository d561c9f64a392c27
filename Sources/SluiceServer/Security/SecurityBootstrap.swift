import Logging
import SluiceCore

/// Installs the default privileges on first start: the `Admin` user administers everything and Anonymous may view
/// and download every feed (as ProGet does). Removing the anonymous permission later makes every feed private.
public enum SecurityBootstrap {
    /// The name of the built-in administrator (created by ``AdminBootstrap``).
    public static let adminUserName = "Admin"
    /// The event that marks the defaults as installed, so that a server whose administrators removed every privilege
    /// on purpose does not get them back at the next start.
    public static let installedEventKind = "security-defaults-installed"

    /// The privileges of a new install.
    public static var defaultPrivileges: [Privilege] {
        [
            Privilege(principal: .user(adminUserName), task: .administer, createdBy: "sluice"),
            Privilege(principal: .anonymous, task: .viewDownload, createdBy: "sluice"),
        ]
    }

    /// Adds ``defaultPrivileges`` when the store holds no privilege and never had the defaults installed. Two servers
    /// starting at once add each privilege once (the store does not duplicate an identical privilege).
    /// - Returns: true if this call installed them.
    /// - Throws: the store's error if the database fails.
    @discardableResult
    public static func installDefaults(security: any SecurityStore, logger: Logger) async throws -> Bool {
        guard try await security.privileges().isEmpty else { return false }
        guard try await security.events(limit: 1, beforeID: nil, kind: installedEventKind).isEmpty else {
            return false
        }
        for privilege in defaultPrivileges {
            try await security.addPrivilege(privilege)
        }
        try await security.recordEvent(
            SecurityEvent(
                kind: installedEventKind, actor: "sluice", subject: "privileges",
                detail: "Admin administers everything; Anonymous may view and download every feed."))
        logger.notice(
            "Installed the default privileges: Admin administers everything, Anonymous may view and download every feed."
        )
        return true
    }
}
