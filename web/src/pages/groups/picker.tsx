import { Button, Group, Paper, Select, Text } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { IconSearch } from '@tabler/icons-react';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { type ReactNode, useState } from 'react';

export interface PickerOption {
  value: string;
  /** What the box shows once picked. */
  label: string;
  /** A second, dimmed line in the list (an email, say). */
  hint?: string;
  /** Why it can't be picked (already bound, say), shown instead of the hint. */
  disabledReason?: string;
}

interface SearchPickerProps<T> {
  label: string;
  placeholder: string;
  /** Identifies the search in react-query's cache; the term is appended. */
  queryKey: readonly unknown[];
  search: (term: string) => Promise<T[]>;
  toOption: (item: T) => PickerOption;
  actionLabel: string;
  actionIcon?: ReactNode;
  busy: boolean;
  /** Resolves once done; the picker then empties for the next one. */
  onPick: (item: T) => Promise<unknown>;
}

/**
 * A searchable Select over an API list (the server filters), and a button that acts on the pick:
 * choosing and confirming are separate, so a stray click or Enter adds nothing.
 */
export function SearchPicker<T>({ label, placeholder, queryKey, search, toOption, actionLabel, actionIcon, busy, onPick }: SearchPickerProps<T>) {
  const [typed, setTyped] = useState('');
  const [picked, setPicked] = useState<{ item: T; option: PickerOption } | null>(null);
  // Once an option is picked the box shows its label: that is not a new search.
  const term = picked && typed === picked.option.label ? '' : typed.trim();
  const [debounced] = useDebouncedValue(term, 250);
  const results = useQuery({ queryKey: [...queryKey, debounced], queryFn: () => search(debounced), placeholderData: keepPreviousData });

  const items = results.data ?? [];
  const options = items.map((item) => ({ item, option: toOption(item) }));
  // Keep the pick among the options, or the Select would forget what it shows.
  if (picked && !options.some(({ option }) => option.value === picked.option.value)) options.unshift(picked);
  const byValue = new Map(options.map((entry) => [entry.option.value, entry]));

  const act = async () => {
    if (!picked) return;
    await onPick(picked.item);
    setPicked(null);
    setTyped('');
  };

  return (
    // Framed, so that it reads as a change to make, apart from the list's own search below.
    <Paper withBorder p="md">
      <Group align="flex-end" gap="sm" wrap="wrap">
        <Select
          label={label}
          placeholder={placeholder}
          leftSection={<IconSearch size={16} />}
          searchable
          clearable
          searchValue={typed}
          onSearchChange={setTyped}
          value={picked?.option.value ?? null}
          onChange={(value) => setPicked(value ? (byValue.get(value) ?? null) : null)}
          data={options.map(({ option }) => ({ value: option.value, label: option.label, disabled: Boolean(option.disabledReason) }))}
          // The server already matched the search (on more than the label); show what it found.
          filter={({ options: shown }) => shown}
          renderOption={({ option }) => {
            const entry = byValue.get(option.value)?.option;
            return (
              <div>
                <Text size="sm">{option.label}</Text>
                {entry?.disabledReason || entry?.hint ? (
                  <Text size="xs" c="dimmed">
                    {entry.disabledReason ?? entry.hint}
                  </Text>
                ) : null}
              </div>
            );
          }}
          error={results.error ? `The search failed: ${results.error.message}` : undefined}
          nothingFoundMessage={results.isFetching ? 'Searching…' : 'Nothing matches'}
          w={{ base: '100%', xs: 360 }}
        />
        <Button onClick={() => void act().catch(() => undefined)} disabled={!picked} loading={busy} leftSection={actionIcon}>
          {actionLabel}
        </Button>
      </Group>
    </Paper>
  );
}
