import { Button, Center, Loader } from '@mantine/core';
import { useEffect, useState } from 'react';
import { useNavigate } from 'react-router';
import { SignInError, completeSignIn, signIn } from '../auth.ts';
import { FullPageMessage, NoAccess } from '../session.tsx';

/** /callback: Gatehouse sends the browser back here with a code (or an error) after sign-in. */
export function Callback() {
  const navigate = useNavigate();
  const [error, setError] = useState<unknown>();
  useEffect(() => {
    completeSignIn().then(
      (returnTo) => navigate(returnTo, { replace: true }),
      (failure: unknown) => setError(failure),
    );
  }, [navigate]);
  if (error instanceof SignInError && error.code === 'access_denied') return <NoAccess />;
  if (error) {
    return (
      <FullPageMessage title="Sign-in did not finish" action={<Button onClick={() => void signIn('/')}>Sign in again</Button>}>
        {error instanceof Error ? error.message : String(error)}
      </FullPageMessage>
    );
  }
  return (
    <Center mih="100vh">
      <Loader aria-label="Finishing sign-in" />
    </Center>
  );
}

/** /signed-out: where the console lands after signing out of Gatehouse. */
export function SignedOut() {
  return (
    <FullPageMessage title="You have signed out" action={<Button onClick={() => void signIn('/')}>Sign in again</Button>}>
      Your Gatehouse session has ended on this browser.
    </FullPageMessage>
  );
}
