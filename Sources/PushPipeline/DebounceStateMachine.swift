/// When to push, as a value type with the clock injected.
///
/// A change that comes when nothing was pushed for `quiet` is pushed at once (leading edge): the
/// push pipeline is incremental, so a lone change — a canary weight shift, one endpoint — should
/// not wait out a debounce window. A change that follows a push within `quiet` opens a window
/// that closes once no change has come for `quiet`, or `maxDelay` after its first change,
/// whichever is first: bursts of applies still become one push (after the burst's first), and a
/// steady stream of changes still pushes every `maxDelay`.
///
/// No I/O and no sleeping: the push loop tells it what happened and at what instant, and does
/// what it answers (sleep until an instant, or push now).
public struct DebounceStateMachine<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    /// What the push loop must do next.
    public enum Action: Sendable, Hashable {
        /// Nothing is pending: wait for a change.
        case idle
        /// A push is pending: wake at this instant (or at the next change) and tell the machine.
        case wait(until: Instant)
        /// Push now; the window is closed.
        case push
    }

    private let quiet: Duration
    private let maxDelay: Duration
    private var firstChange: Instant?
    private var lastChange: Instant?
    private var lastPush: Instant?

    /// A machine with no pending change.
    public init(quiet: Duration, maxDelay: Duration) {
        self.quiet = quiet
        self.maxDelay = maxDelay
    }

    /// Whether a change is waiting to be pushed.
    public var isPending: Bool { firstChange != nil }

    /// A change was committed at `now`.
    public mutating func changed(at now: Instant) -> Action {
        if firstChange == nil, lastPush.map({ now >= $0.advanced(by: quiet) }) ?? true {
            lastPush = now
            return .push
        }
        if firstChange == nil { firstChange = now }
        lastChange = now
        return decide(at: now)
    }

    /// The instant the loop waited for has come (or passed).
    public mutating func tick(at now: Instant) -> Action {
        decide(at: now)
    }

    private mutating func decide(at now: Instant) -> Action {
        guard let first = firstChange, let last = lastChange else { return .idle }
        let deadline = min(last.advanced(by: quiet), first.advanced(by: maxDelay))
        guard now >= deadline else { return .wait(until: deadline) }
        firstChange = nil
        lastChange = nil
        lastPush = now
        return .push
    }
}
