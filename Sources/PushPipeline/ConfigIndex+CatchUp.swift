import Storage

extension ConfigIndex {
    /// Brings this copy up to what `store` holds now: the keyed changes since its revision when
    /// the change log can answer, else a whole snapshot. The admin side's "configuration as
    /// stored", built on the push loop's index so only what changed since the last push is parsed.
    public mutating func catchUp(with store: any ConfigStore) async throws(StorageError) {
        if let known = revision, let delta = try await store.delta(after: known) {
            apply(delta)
        } else {
            load(try await store.snapshot())
        }
    }
}
